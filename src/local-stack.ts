/**
 * The local dev stack's addresses (the defaults in config.ts; brokers as the launcher numbers
 * them: 9092, 9094, 9096). Only a target at these addresses is one `orderbus stack up` starts, so
 * only there does an error suggest it; anywhere else the hint names the configuration instead.
 * Nothing here depends on the dev stack: these are the product's default addresses.
 */
export type LocalComponent = 'kafka' | 'rabbitmq' | 'management' | 'postgres' | 'registry';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const LOCAL_PORTS: Record<LocalComponent, number[]> = {
  kafka: [9092, 9094, 9096],
  rabbitmq: [5672],
  management: [15672],
  postgres: [5432],
  registry: [8081],
};

/** `host:port` or a URL; a URL without a port has its scheme's default, never a stack port. */
function hostPort(address: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(address.includes('://') ? address : `tcp://${address}`);
    return { host: u.hostname, port: Number(u.port) };
  } catch {
    return undefined;
  }
}

/** True when every address is one of the local stack's for that component. */
export function isLocalStack(component: LocalComponent, addresses: string | string[]): boolean {
  const list = typeof addresses === 'string' ? [addresses] : addresses;
  return (
    list.length > 0 &&
    list.every((a) => {
      const hp = hostPort(a);
      return hp !== undefined && LOCAL_HOSTS.has(hp.host) && LOCAL_PORTS[component].includes(hp.port);
    })
  );
}

/**
 * The hint for a component that does not answer: `local` (starting the stack) only at the local
 * stack's addresses; elsewhere where the address comes from (`orderbus context show`, or
 * `orderbus config` without a context) and what to check.
 */
export function unreachableHint(
  component: LocalComponent,
  addresses: string | string[],
  local: string,
  remote: { key: string; context?: string | undefined },
): string {
  if (isLocalStack(component, addresses)) return local;
  const show = remote.context ? `orderbus context show ${remote.context}` : 'orderbus config';
  return `check ${remote.key} (${show} shows where it comes from) and that this host can reach it; orderbus status shows what answers`;
}

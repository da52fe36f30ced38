import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Agent } from 'node:https';
import type { OrderbusConfig } from '../config.js';
import { readConfigPath } from '../config-secrets.js';
import { OrderbusError, errorMessage } from '../errors.js';
import { unreachableHint } from '../local-stack.js';

export { SchemaType };
export type Registry = SchemaRegistry;

/** The registry client, with basic auth and the configured CA for https (config keeps both out of the URL). */
export function createRegistry(config: OrderbusConfig): SchemaRegistry {
  const r = config.registry;
  return new SchemaRegistry({
    host: r.url,
    ...(r.username !== undefined ? { auth: { username: r.username, password: r.password ?? '' } } : {}),
    ...(r.caFile && r.url.startsWith('https:')
      ? { agent: new Agent({ ca: readConfigPath('registry.caFile', r.caFile), keepAlive: true }) }
      : {}),
  });
}

export function registryUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  return new OrderbusError(
    'REGISTRY_UNREACHABLE',
    `cannot reach the schema registry at ${config.registry.url}: ${errorMessage(cause)}`,
    {
      hint: unreachableHint(
        'registry',
        config.registry.url,
        'orderbus stack status (and orderbus stack up to start the local registry)',
        { key: 'registry.url (or leave registry out of components)', context: config.context },
      ),
      retriable: true,
      subject: config.registry.url,
      cause,
    },
  );
}

/** Ready, serving the Confluent API, and its version when it tells (Apicurio's system info). */
export async function registryHealthy(config: OrderbusConfig): Promise<{ version?: string } | undefined> {
  const u = new URL(config.registry.url);
  try {
    const ready = await fetch(`${u.origin}/health/ready`, { signal: AbortSignal.timeout(2000) });
    if (!ready.ok) return undefined;
    const subjects = await fetch(`${config.registry.url}/subjects`, { signal: AbortSignal.timeout(2000) });
    if (!subjects.ok) return undefined;
    const info = await fetch(`${u.origin}/apis/registry/v3/system/info`, {
      signal: AbortSignal.timeout(2000),
    })
      .then((r) => (r.ok ? (r.json() as Promise<{ version?: string }>) : {}))
      .catch(() => ({}));
    return info;
  } catch {
    return undefined;
  }
}

import { OrderbusError, unknownNameError, usageError } from '../errors.js';
import type { OrderbusConfig } from '../config.js';
import { stderrLogger, type Service } from './service.js';
import { SERVICES, serviceNames } from './services.js';

/** Starts the named services in registry order; returns a stop function (see stopAll). */
export async function runServices(
  config: OrderbusConfig,
  names: string[],
  options: { exclude?: string[] } = {},
): Promise<{ services: Service[]; stop: () => Promise<string[]> }> {
  const known = serviceNames();
  for (const n of names)
    if (!SERVICES[n])
      throw unknownNameError('service', n, known, `orderbus run --help (services: ${known.join(', ')})`);
  const selected = (names.length > 0 ? known.filter((n) => names.includes(n)) : known).filter(
    (n) => !(options.exclude ?? []).includes(n),
  );
  if (selected.length === 0)
    throw usageError(
      'NO_SERVICES',
      'no service selected',
      'orderbus run (all services) or orderbus run --service payment',
    );
  const started: Service[] = [];
  const sizes = poolSizes(config, selected);
  try {
    for (const name of selected) {
      const entry = SERVICES[name];
      if (!entry) continue;
      const poolSize = sizes.get(name) ?? entry.connections(config);
      const service = await entry.build({ config, log: stderrLogger(name), poolSize, name });
      await service.start();
      started.push(service);
    }
  } catch (e) {
    for (const s of [...started].reverse()) await s.stop().catch(() => undefined);
    throw e instanceof OrderbusError
      ? e
      : new OrderbusError(
          'SERVICE_START_FAILED',
          `could not start the pipeline: ${e instanceof Error ? e.message : String(e)}`,
          { hint: 'orderbus stack status', cause: e },
        );
  }
  return { services: started, stop: () => stopAll(started) };
}

/** How long stopping the services of a process may take before they are given up. */
export const STOP_BUDGET_MS = 30_000;

/**
 * Stops the services — all at once (each commits its own progress; a consumer that is still
 * joining its group takes seconds to leave, and one after another they added up to ~40 s), the
 * simulated providers last so calls in flight are answered — each within STOP_BUDGET_MS: a client
 * retrying against a broker that is gone (Kafka down while stopping) must not hold the process
 * forever. Returns the services that did not finish stopping in time.
 */
async function stopAll(started: Service[]): Promise<string[]> {
  const deadline = Date.now() + STOP_BUDGET_MS;
  const stuck: string[] = [];
  const within = async (s: Service): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      s.stop().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(1000, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    if (!stopped) stuck.push(s.name);
  };
  await Promise.all(started.filter((s) => s.name !== 'providers').map(within));
  for (const s of started.filter((x) => x.name === 'providers')) await within(s);
  return stuck;
}

/**
 * Each service's pool size: its nominal size, or — when the services of this process together
 * would open more than `database.processConnections` — its share of that budget (at least 2).
 * With every service in one process (`orderbus run`, `npm start`) the nominal sizes add up to
 * ~100, all of a default PostgreSQL server's max_connections.
 */
export function poolSizes(config: OrderbusConfig, names: string[]): Map<string, number> {
  const nominal = names.map((n) => [n, SERVICES[n]?.connections(config) ?? 0] as const);
  const total = nominal.reduce((s, [, c]) => s + c, 0);
  const scale = total > config.database.processConnections ? config.database.processConnections / total : 1;
  return new Map(nominal.map(([n, c]) => [n, Math.max(2, Math.floor(c * scale))]));
}

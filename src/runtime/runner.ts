import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { OrderbusError, unknownNameError, usageError } from '../errors.js';
import type { OrderbusConfig } from '../config.js';
import { stderrLogger, type Service } from './service.js';
import { SERVICES, serviceNames } from './services.js';

/** Starts the named services in registry order; returns a stop function (see stopAll). */
export async function runServices(
  config: OrderbusConfig,
  names: string[],
  options: { exclude?: string[]; nice?: number } = {},
): Promise<{ services: Service[]; stop: () => Promise<string[]> }> {
  const known = serviceNames();
  if (options.nice !== undefined) lowerPriority(options.nice);
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

/**
 * Gives this process the nice value `nice` (0–19), every thread of it: Linux keeps one per thread,
 * and the process's alone would leave libuv's pool and V8's threads where they were. For the
 * consumers' process beside checkout-api on one machine: under a burst the consumers working off
 * its orders otherwise take the CPU checkout's answers wait for.
 */
export function lowerPriority(nice: number): void {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    throw usageError(
      'BAD_NICE',
      `--nice must be a whole number from 0 to 19, not ${nice}`,
      'orderbus run --nice 10',
    );
  setProcessNice('self', nice);
}

/** Sets the nice value of every thread of process `pid` (throws where it may not or is gone). */
export function setProcessNice(pid: number | 'self', nice: number): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (e) {
    if (pid !== 'self') throw e;
    tids = ['0']; // no /proc: the calling thread, which the threads started later inherit from
  }
  for (const tid of tids) setPriority(Number(tid), nice);
}

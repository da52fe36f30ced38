import { ExitCode, OrderbusError, formatError } from '../src/errors.js';
import { log } from './output.js';

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * The foreground commands (`run`, `providers`): wait for SIGINT/SIGTERM, then stop gracefully. A
 * second signal exits at once; services that did not stop within the runner's budget (a broker
 * gone while stopping) are named and the process exits anyway — as after a kill -9, their
 * unfinished work is redelivered, nothing acknowledged is lost. The process then exits.
 */
export async function untilSignalThenStop(stop: () => Promise<string[]>): Promise<void> {
  await untilSignal();
  log('stopping… (again to exit at once)');
  const now = () => process.exit(130);
  process.once('SIGINT', now);
  process.once('SIGTERM', now);
  const stuck = await stop();
  if (stuck.length > 0) {
    const err = new OrderbusError(
      'STOP_INCOMPLETE',
      `${stuck.join(', ')} did not stop in time; exiting anyway (their unfinished work is redelivered on the next start)`,
      { hint: 'orderbus stack status' },
    );
    process.stderr.write(`${formatError(err)}\n`);
  }
  // Everything is stopped (or given up); a client still retrying a broker that went away (Kafka
  // stopped before us) must not keep the process alive.
  process.exit(stuck.length > 0 ? ExitCode.error : ExitCode.ok);
}

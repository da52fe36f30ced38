import type { EventEnvelope } from '../events/types.js';

/** Caps how many calls run at once across every batch of a process (e.g. provider calls). */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * Runs `fn` for every event: the events of one order one after another in their order, different
 * orders concurrently (each call through `limiter`). Order in Kafka is per key, not per partition,
 * so this keeps every guarantee a record-at-a-time consumer gave. Rejects with the first error once
 * the calls already started have settled; results are in the events' order.
 */
export async function forEachOrder<T>(
  events: EventEnvelope[],
  limiter: Limiter,
  fn: (event: EventEnvelope) => Promise<T>,
): Promise<T[]> {
  const byOrder = new Map<string, number[]>();
  events.forEach((e, i) => byOrder.set(e.orderId, [...(byOrder.get(e.orderId) ?? []), i]));
  const results: T[] = new Array<T>(events.length);
  let failed = false;
  const settled = await Promise.allSettled(
    [...byOrder.values()].map(async (indexes) => {
      for (const i of indexes) {
        if (failed) return;
        try {
          results[i] = await limiter.run(() => fn(events[i] as EventEnvelope));
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    }),
  );
  const error = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (error) throw error.reason;
  return results;
}

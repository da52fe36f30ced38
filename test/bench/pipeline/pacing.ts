import { percentileOf } from '../../../src/devstack/load/load.js';

/** How the benchmarks pace their own work: open loop at a rate, or a closed loop. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Open loop: every 5 ms, calls `fn(n)` with the n calls that fell due since the last tick, so
 * that `rate` a second are made for `ms`; resolves when all calls finished (rejects with the
 * first that failed).
 */
export async function atRate(rate: number, ms: number, fn: (n: number) => Promise<unknown>): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const start = Date.now();
  let made = 0;
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    if (due > made) {
      const call = fn(due - made);
      call.catch(() => undefined); // awaited below, with the others
      pending.push(call);
      made = due;
    }
    await sleep(5);
  }
  await Promise.all(pending);
}

/** Closed loop: `concurrency` callers each calling `fn` again as soon as it returned, for `ms`. */
export async function closedLoop(
  concurrency: number,
  ms: number,
  fn: () => Promise<void>,
): Promise<{ perSecond: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await fn();
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { perSecond: lat.length / (ms / 1000), p50: percentileOf(lat, 50), p99: percentileOf(lat, 99) };
}

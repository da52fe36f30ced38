/**
 * Sizes for quicker iterations (the defaults are what BENCHMARKS.md reports): runs per pipeline
 * benchmark, and the e2e benchmark's offered rate and how long it is held.
 */
export const RUNS = Number(process.env.ORDERBUS_BENCH_PIPELINE_RUNS ?? 3);
/** The rate the e2e benchmark offers (orders/s), to the pipeline and to the bare chain alike. */
export const E2E_RATE = Number(process.env.ORDERBUS_BENCH_E2E_RATE ?? 500);
/** How long the rate is held (s): the 2 minutes; shorter for quick iterations. */
export const E2E_SECONDS = Number(process.env.ORDERBUS_BENCH_E2E_SECONDS ?? 120);
/** Completions are counted per window of this length. */
export const E2E_WINDOW_MS = 10_000;
/**
 * The nice values of the core pipeline's consumer processes (checkout-api and the providers stay
 * at 0), as `orderbus run --nice` sets them: under load the consumers working off orders take the
 * CPU checkout's answers wait for. ORDERBUS_BENCH_CONSUMER_NICE=0,10 alternates the values run by
 * run (checkout: round by round), an A/B in the same benchmark; `fallback` when it is not set.
 */
export const consumerNice = (fallback: string): number[] =>
  (process.env.ORDERBUS_BENCH_CONSUMER_NICE ?? fallback).split(',').map(Number);

/**
 * How the e2e benchmark runs the core consumers (outbox-relay, payment, inventory, shipping,
 * saga): `one`, all in one `orderbus run` process (the default, as `orderbus run` and `npm start`
 * run them), or `each` in a process of its own (what BENCHMARKS.md reported up to 2026-12-03).
 * ORDERBUS_BENCH_E2E_LAYOUT=each,one alternates them run by run (the consumers are restarted
 * between runs), an A/B in the same benchmark.
 */
export type E2eLayout = 'each' | 'one';
export const E2E_LAYOUTS: E2eLayout[] = (process.env.ORDERBUS_BENCH_E2E_LAYOUT ?? 'one')
  .split(',')
  .map((l) => {
    if (l !== 'each' && l !== 'one') throw new Error(`ORDERBUS_BENCH_E2E_LAYOUT: each or one, not ${l}`);
    return l;
  });

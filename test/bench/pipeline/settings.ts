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

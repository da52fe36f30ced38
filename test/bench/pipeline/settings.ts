/**
 * Sizes for quicker iterations (the defaults are what BENCHMARKS.md reports): runs per pipeline
 * benchmark, the e2e rate ramp and its step length.
 */
export const RUNS = Number(process.env.ORDERBUS_BENCH_PIPELINE_RUNS ?? 3);
export const E2E_STEPS = (process.env.ORDERBUS_BENCH_E2E_STEPS ?? '20,50,100,200,300,400,500,600')
  .split(',')
  .map(Number);
export const E2E_STEP_MS = Number(process.env.ORDERBUS_BENCH_E2E_STEP_MS ?? 15_000);
/** A step counts as steady when every order of it has shipped this long after it. */
export const E2E_GRACE_MS = 5_000;
/** The step whose machine CPU per order is reported (the first step if the ramp lacks it). */
export const CPU_RATE = E2E_STEPS.includes(100) ? 100 : (E2E_STEPS[0] ?? 100);

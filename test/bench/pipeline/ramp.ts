import { percentileOf } from '../../../src/devstack/load/load.js';
import { cpuMsPerOrder, idleShare, type CpuReading } from './cpu.js';
import { sleep } from './pacing.js';
import { E2E_STEPS, E2E_STEP_MS } from './settings.js';

/** The e2e rate ramp, shared by the pipeline and its bare-kafkajs reference. */

export interface StepResult {
  rate: number;
  placed: number;
  errors: number;
  shipped: number;
  completedPerSecond: number;
  p50: number;
  p99: number;
  /** Machine CPU per order from the step's start to the end of its grace, beyond idle. */
  cpuMsPerOrder: number;
}

export interface RampResult {
  /** The last step that kept up. */
  steady?: StepResult;
  /** The last step run (the first that did not keep up, or the ramp's end). */
  saturated?: StepResult;
  first?: StepResult;
  steps: StepResult[];
}

/** Runs the rate ramp with `step`, stopping at the first step that does not keep up. */
export async function ramp(
  label: string,
  step: (rate: number, idle: number) => Promise<StepResult>,
): Promise<RampResult> {
  let steady: StepResult | undefined;
  let saturated: StepResult | undefined;
  let first: StepResult | undefined;
  const steps: StepResult[] = [];
  // What the running processes cost with no load, so each step's CPU per order is its own —
  // after a pause, so processes just started (JIT) or still settling do not count as idle.
  await sleep(5000);
  const idle = await idleShare(5000);
  process.stderr.write(`    ${label} idle: machine busy ${Math.round(100 * idle)} %\n`);
  for (const rate of E2E_STEPS) {
    const r = await step(rate, idle);
    steps.push(r);
    first ??= r;
    process.stderr.write(`    ${label} step ${rate}/s: ${JSON.stringify(r)}\n`);
    const keptUp = r.placed >= 0.97 * rate * (E2E_STEP_MS / 1000) && r.shipped >= 0.995 * r.placed;
    saturated = r;
    if (!keptUp) break;
    steady = r;
  }
  return { steady, saturated, first, steps };
}

/**
 * A step's result from what it measured: `latencies` (ms, any order) of the orders that completed,
 * `completed` of them in the step after its first 3 s (t0 + 3 s … tEnd), machine CPU from its
 * start (`machine0`) to the end of its grace (`machine2`).
 */
export function stepResult(m: {
  rate: number;
  placed: number;
  errors: number;
  latencies: number[];
  completed: number;
  t0: number;
  tEnd: number;
  machine0: CpuReading;
  machine2: CpuReading;
  idle: number;
}): StepResult {
  const sorted = [...m.latencies].sort((a, b) => a - b);
  return {
    rate: m.rate,
    placed: m.placed,
    errors: m.errors,
    shipped: sorted.length,
    completedPerSecond: m.completed / ((m.tEnd - m.t0 - 3000) / 1000),
    p50: percentileOf(sorted, 50),
    p99: percentileOf(sorted, 99),
    cpuMsPerOrder: cpuMsPerOrder(m.machine0, m.machine2, m.idle, Date.now() - m.t0, m.placed),
  };
}

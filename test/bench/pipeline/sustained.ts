import { percentileOf } from '../../../src/devstack/load/load.js';
import { cpuMsPerOrder, idleShare, type CpuReading } from './cpu.js';
import { sleep } from './pacing.js';
import { E2E_WINDOW_MS } from './settings.js';

/**
 * The e2e benchmark's measure, shared by the pipeline and its bare-kafkajs reference: one rate
 * offered for a fixed time, read per 10 s window (completions/s against what was placed), the
 * backlog (orders placed and not yet completed) half-way and at the end, and the latency of every
 * order once all completed.
 */

export interface Window {
  /** Seconds since the start of the load. */
  from: number;
  /** Orders placed per second in the window. */
  placed: number;
  /** Orders completed (shipping.created) per second in the window. */
  completed: number;
}

export interface SustainedResult {
  rate: number;
  seconds: number;
  placed: number;
  errors: number;
  windows: Window[];
  /** The lowest completions/s of any window but the first (which fills the pipeline). */
  lowestCompleted: number;
  /** The lowest placed/s of any window (what checkout accepted). */
  lowestPlaced: number;
  backlogMiddle: number;
  backlogEnd: number;
  p50: number;
  p99: number;
  /** Machine CPU per order while the load ran, beyond idle. */
  cpuMsPerOrder: number;
}

/** One order: when it was placed and when it completed (ms since epoch; undefined if it did not). */
export interface OrderTimes {
  placed: number;
  done?: number;
  ms?: number;
}

/** What the running processes cost with no load, after a pause (JIT and start-up settle). */
export async function measureIdle(label: string): Promise<number> {
  await sleep(5000);
  const idle = await idleShare(5000);
  process.stderr.write(`    ${label} idle: machine busy ${Math.round(100 * idle)} %\n`);
  return idle;
}

const countUpTo = (sorted: number[], t: number): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** The result of a run that offered `rate` from `t0` to `tEnd`, from every order's times. */
export function sustainedResult(m: {
  label: string;
  rate: number;
  /** How long the rate was offered (s). */
  seconds: number;
  errors: number;
  orders: OrderTimes[];
  t0: number;
  tEnd: number;
  machine0: CpuReading;
  machine1: CpuReading;
  idle: number;
}): SustainedResult {
  const placedAt = m.orders.map((o) => o.placed).sort((a, b) => a - b);
  const doneAt = m.orders.flatMap((o) => (o.done === undefined ? [] : [o.done])).sort((a, b) => a - b);
  // The windows and the backlog end where the load was meant to end: tEnd also waits for the
  // answers to the last requests (up to the load generator's 10 s timeout).
  const end = Math.min(m.tEnd, m.t0 + m.seconds * 1000);
  const windows: Window[] = [];
  const per = (xs: number[], a: number, b: number) =>
    (countUpTo(xs, b) - countUpTo(xs, a)) / ((b - a) / 1000);
  for (let a = m.t0; a + E2E_WINDOW_MS / 2 <= end; a += E2E_WINDOW_MS) {
    const b = Math.min(a + E2E_WINDOW_MS, end);
    windows.push({
      from: Math.round((a - m.t0) / 1000),
      placed: per(placedAt, a, b),
      completed: per(doneAt, a, b),
    });
  }
  const backlog = (t: number) => countUpTo(placedAt, t) - countUpTo(doneAt, t);
  const lat = m.orders.flatMap((o) => (o.ms === undefined ? [] : [o.ms])).sort((a, b) => a - b);
  const steady = windows.slice(1);
  const r: SustainedResult = {
    rate: m.rate,
    seconds: (end - m.t0) / 1000,
    placed: m.orders.length,
    errors: m.errors,
    windows,
    lowestCompleted: Math.min(...(steady.length > 0 ? steady : windows).map((w) => w.completed)),
    lowestPlaced: Math.min(...windows.map((w) => w.placed)),
    backlogMiddle: backlog((m.t0 + end) / 2),
    backlogEnd: backlog(end),
    p50: percentileOf(lat, 50),
    p99: percentileOf(lat, 99),
    cpuMsPerOrder: cpuMsPerOrder(m.machine0, m.machine1, m.idle, m.tEnd - m.t0, m.orders.length),
  };
  const w = windows.map((x) => `${x.from}s ${Math.round(x.placed)}→${Math.round(x.completed)}`).join(', ');
  process.stderr.write(
    `    ${m.label} at ${m.rate}/s: placed ${r.placed} (errors ${r.errors}), per 10 s window placed→completed/s: ${w}; backlog middle ${r.backlogMiddle} end ${r.backlogEnd}; p50 ${Math.round(r.p50)} p99 ${Math.round(r.p99)} ms; ${r.cpuMsPerOrder.toFixed(1)} ms CPU/order\n`,
  );
  return r;
}

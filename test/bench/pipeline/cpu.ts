import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { sleep } from './pacing.js';

/** Machine CPU accounting from /proc/stat, for the e2e benchmark's CPU per order. */

/** The machine's busy and total CPU time so far (all cores, from /proc/stat), in clock ticks. */
export function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

export type CpuReading = ReturnType<typeof machineCpu>;

/** The machine's busy share (0–1, all cores) between two readings. */
export function busyShare(a: CpuReading, b: CpuReading): number {
  return (b.busy - a.busy) / Math.max(1, b.total - a.total);
}

/** The machine's busy share over `ms` of nothing but what is running now. */
export async function idleShare(ms = 3000): Promise<number> {
  const a = machineCpu();
  await sleep(ms);
  return busyShare(a, machineCpu());
}

/**
 * Machine CPU (ms, all processes: ours, PostgreSQL, Kafka, the load generator) per order between
 * two readings, beyond what the same processes spend idle (`idle`, a busy share).
 */
export function cpuMsPerOrder(
  m0: CpuReading,
  m1: CpuReading,
  idle: number,
  wallMs: number,
  orders: number,
): number {
  return (Math.max(0, busyShare(m0, m1) - idle) * cpus().length * wallMs) / Math.max(1, orders);
}

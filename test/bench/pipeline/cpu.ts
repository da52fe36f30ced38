import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { processCpuSeconds } from '../harness.js';
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

/**
 * CPU seconds (user + system) of every process on the machine so far, summed by what it is:
 * PostgreSQL, each Java service (Kafka, the registry), RabbitMQ, the bench itself (the load
 * generator), the bench's children by `childLabel(pid)`, the rest as "other". For the e2e
 * benchmark's answer to "where does the machine's CPU go per order".
 */
export function cpuByComponent(childLabel: (pid: number) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let secs: number;
    let cmd: string;
    try {
      secs = processCpuSeconds(pid);
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited
    }
    if (secs === 0) continue;
    const label =
      pid === process.pid
        ? 'bench (load generator)'
        : (childLabel(pid) ??
          (cmd.includes('postgres')
            ? 'postgresql'
            : cmd.includes('beam.smp')
              ? 'rabbitmq'
              : cmd.includes('kafka.Kafka')
                ? 'kafka'
                : cmd.startsWith('java') || cmd.includes('/java ')
                  ? 'registry (java)'
                  : 'other'));
    out[label] = (out[label] ?? 0) + secs;
  }
  return out;
}

/** `b − a` per component as % of one core over `secs`, largest first. */
export function componentShares(a: Record<string, number>, b: Record<string, number>, secs: number): string {
  return Object.entries(b)
    .map(([k, v]) => [k, (100 * (v - (a[k] ?? 0))) / secs] as const)
    .filter(([, pct]) => pct >= 0.5)
    .sort((x, y) => y[1] - x[1])
    .map(([k, pct]) => `${k} ${Math.round(pct)}`)
    .join(', ');
}

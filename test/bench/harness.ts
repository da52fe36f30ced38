import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Benchmarks are not tests: they print figures and write BENCHMARKS.md, and nothing asserts a
 * time. Each figure is the median of several runs, with min and max, and is reported beside a
 * reference measured in the same run (the machine is shared and noisy).
 */
export interface Sample {
  /** What was measured, e.g. "orderbus lag --json, 50 groups x 12 partitions". */
  metric: string;
  value: number;
  unit: string;
  /** Lower is better (latency) or higher is better (throughput). */
  better: 'lower' | 'higher';
  /** The reference measured in the same run, if any. */
  reference?: { name: string; value: number };
  /**
   * The measurement's resolution, in `unit` (Kafka's timestamps are whole milliseconds): a value
   * below it reads "< resolution", and the ratio compares values of at least it — a reference of
   * "0 ms" is not infinitely better than one of 1 ms.
   */
  resolution?: number;
  goal?: string;
  command: string;
}

export interface Figure extends Omit<Sample, 'value' | 'reference'> {
  median: number;
  min: number;
  max: number;
  runs: number;
  reference?: { name: string; median: number };
  /** value / reference for throughput; reference / value for latency: ≥ 1 means "as good as". */
  ratio?: number;
}

export interface Benchmark {
  name: string;
  description: string;
  /** One run; returns one sample per metric. */
  run(): Promise<Sample[]>;
  runs?: number;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

export function summarize(samples: Sample[][]): Figure[] {
  const byMetric = new Map<string, Sample[]>();
  for (const run of samples)
    for (const s of run) byMetric.set(s.metric, [...(byMetric.get(s.metric) ?? []), s]);
  return [...byMetric.values()].map((list) => {
    const first = list[0] as Sample;
    const values = list.map((s) => s.value);
    const refs = list.flatMap((s) => (s.reference ? [s.reference.value] : []));
    const med = median(values);
    const fig: Figure = {
      metric: first.metric,
      unit: first.unit,
      better: first.better,
      command: first.command,
      ...(first.goal ? { goal: first.goal } : {}),
      ...(first.resolution ? { resolution: first.resolution } : {}),
      median: med,
      min: Math.min(...values),
      max: Math.max(...values),
      runs: values.length,
    };
    if (first.reference && refs.length > 0) {
      const refMed = median(refs);
      fig.reference = { name: first.reference.name, median: refMed };
      const ours = Math.max(med, first.resolution ?? 0);
      const ref = Math.max(refMed, first.resolution ?? 0);
      fig.ratio = first.better === 'higher' ? ours / ref : ref / ours;
    }
    return fig;
  });
}

export async function machineInfo(): Promise<Record<string, string>> {
  const version = async (cmd: string, args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync(cmd, args, { timeout: 10000 });
      return `${stdout}${stderr}`.split('\n')[0]?.trim() ?? '';
    } catch {
      return 'not found';
    }
  };
  return {
    date: new Date().toISOString(),
    os: `${osType()} ${release()}`,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    java: await version('java', ['-version']),
    rabbitmq: await version('sh', ['-c', 'rabbitmqctl version 2>/dev/null || echo unknown']),
    postgres: await version('psql', ['--version']),
  };
}

export function fmt(n: number, resolution = 0): string {
  if (n < resolution) return `< ${fmt(resolution)}`;
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 1) return n.toFixed(1);
  return n.toFixed(3);
}

/** CPU seconds (user + system) the process `pid` has used so far (/proc/PID/stat); throws once it exited. */
export function processCpuSeconds(pid: number): number {
  // After the last ') ': the command name before it may itself hold one.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { median } from '../harness.js';
import { bin, exec, orderbusInTmux, rssMb, runId, sleep } from './timed.js';

/**
 * A long-running view (`lag --watch`, the console) over the big cluster: its CPU (utime + stime
 * from /proc/PID/stat) and RSS (VmRSS) over minutes of 2-second refreshes, after a warm-up.
 */
export interface WatchFigures {
  /** Average CPU over the measured span, in % of one core. */
  cpuPercent: number;
  rssAfterWarmupMb: number;
  rssEndMb: number;
  rssMinMb: number;
  rssMaxMb: number;
  /**
   * RSS at the first sample SETTLED_MS into the measured span (null when the span is shorter):
   * by then V8 has sized its heap to the refresh's garbage, so growth from here is what a leak
   * would show, where growth from the warm-up also holds the heap's sizing.
   */
  rssSettledMb: number | null;
  /**
   * RSS as a band, not a point: the median of the samples (every 5 s) of minutes 5–10 of the span
   * and of its last 5 minutes (null when the span is under 15 min). A point reading lands anywhere
   * in the swing between two major GCs (±20 % on the big cluster); the medians compare the levels.
   */
  rssBand: { earlyMb: number; lateMb: number; lateMinMb: number; lateMaxMb: number } | null;
}

/** When the heap has sized itself to the refresh (NOTES.md: 3–5 min on the big cluster). */
export const SETTLED_MS = 5 * 60_000;

function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTick;
  } catch {
    return null;
  }
}

/** The span of each RSS band compared (minutes 5–10 against the last 5). */
export const BAND_MS = 5 * 60_000;

/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const clockTick = 100;

async function measure(pid: number, warmupMs: number, spanMs: number, what: string): Promise<WatchFigures> {
  await sleep(warmupMs);
  const cpu0 = cpuSeconds(pid);
  const rss0 = rssMb(pid);
  if (cpu0 === null || rss0 === null) throw new Error(`${what} exited during its warm-up`);
  const t0 = Date.now();
  let min = rss0;
  let max = rss0;
  let last = rss0;
  let settled: number | null = null;
  const samples: { at: number; mb: number }[] = [];
  while (Date.now() - t0 < spanMs) {
    await sleep(5000);
    const v = rssMb(pid);
    if (v === null) throw new Error(`${what} exited during the benchmark`);
    min = Math.min(min, v);
    max = Math.max(max, v);
    last = v;
    samples.push({ at: Date.now() - t0, mb: v });
    if (settled === null && Date.now() - t0 >= SETTLED_MS) settled = v;
  }
  const cpu1 = cpuSeconds(pid) ?? cpu0;
  const within = (from: number, to: number) =>
    samples.filter((s) => s.at >= from && s.at < to).map((s) => s.mb);
  const early = within(SETTLED_MS, SETTLED_MS + BAND_MS);
  const late = within(spanMs - BAND_MS, Number.POSITIVE_INFINITY);
  return {
    cpuPercent: ((cpu1 - cpu0) / ((Date.now() - t0) / 1000)) * 100,
    rssAfterWarmupMb: rss0,
    rssEndMb: last,
    rssMinMb: min,
    rssMaxMb: max,
    rssSettledMb: spanMs > SETTLED_MS ? settled : null,
    rssBand:
      spanMs >= SETTLED_MS + 2 * BAND_MS && early.length > 0 && late.length > 0
        ? {
            earlyMb: median(early),
            lateMb: median(late),
            lateMinMb: Math.min(...late),
            lateMaxMb: Math.max(...late),
          }
        : null,
  };
}

/** `orderbus lag --watch 2` with its screens written to /dev/null (a pipe: no terminal to redraw). */
export async function measureLagWatch(
  env: Record<string, string>,
  warmupMs: number,
  spanMs: number,
): Promise<WatchFigures> {
  const out = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [bin, 'lag', '--watch', '2'], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', out, 'ignore'],
  });
  closeSync(out);
  try {
    if (!child.pid) throw new Error('lag --watch did not start');
    return await measure(child.pid, warmupMs, spanMs, 'lag --watch');
  } finally {
    child.kill('SIGINT');
  }
}

/** `orderbus console --refresh 2` in a pseudo-terminal (tmux, 120x40), as console-memory.ts runs it. */
export async function measureConsole(
  env: Record<string, string>,
  warmupMs: number,
  spanMs: number,
): Promise<WatchFigures> {
  const session = `bench-big-console-${runId}`;
  try {
    const pid = await orderbusInTmux(session, ['console', '--refresh', '2'], env);
    return await measure(pid, warmupMs, spanMs, 'console');
  } finally {
    await exec('tmux', ['kill-session', '-t', session]).catch(() => undefined);
  }
}

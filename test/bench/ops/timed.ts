import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../../src/config.js';
import { projectRoot } from '../../../src/paths.js';
import type { Sample } from '../harness.js';

/**
 * The ops commands run as an operator runs them (the compiled CLI, node start-up included), timed,
 * with the names the ops benchmarks of one `npm run bench` share.
 */
export const exec = promisify(execFile);
export const config = loadConfig();
export const bin = join(projectRoot(), 'bin', 'orderbus');
/** Names this run's topics, groups, queues and sessions. */
export const runId = `${process.pid}-${Date.now().toString(36)}`;

export interface Timed {
  seconds: number;
  maxRssMb: number | null;
  stdout: string;
}

/** Runs a command, returning wall time and peak RSS (GNU time, when installed). */
export async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Timed> {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const { stdout, stderr } = await exec(
    gnuTime ? '/usr/bin/time' : cmd,
    gnuTime ? ['-f', 'RSSKB=%M', cmd, ...args] : args,
    {
      env: { ...process.env, NO_COLOR: '1', ...env },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 30 * 60 * 1000,
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /RSSKB=(\d+)/.exec(stderr);
  return { seconds, maxRssMb: m ? Number(m[1]) / 1024 : null, stdout };
}

/** `orderbus ARGS…`, timed. */
export function timedOrderbus(args: string[]): Promise<Timed> {
  return timed(process.execPath, [bin, ...args]);
}

/** The peak RSS figure of a timed run (NaN without GNU time). */
export function peakRss(
  what: string,
  run: Timed,
  command: string,
  reference?: { name: string; run: Timed },
): Sample {
  return {
    metric: `peak RSS of ${what}`,
    value: run.maxRssMb ?? Number.NaN,
    unit: 'MB',
    better: 'lower',
    ...(reference
      ? { reference: { name: reference.name, value: reference.run.maxRssMb ?? Number.NaN } }
      : {}),
    command,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's resident set (VmRSS) in MB, null once it has gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * `orderbus ARGS…` in a pseudo-terminal (a detached tmux session, 120x40) with `env` added; resolves
 * to its pid once it runs. Kill the session with `tmux kill-session -t SESSION`.
 */
export async function orderbusInTmux(
  session: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  await exec('tmux', [
    ...['new-session', '-d', '-s', session, '-x', '120', '-y', '40'],
    ...['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
    ...[process.execPath, bin, ...args],
  ]);
  for (let i = 0; i < 50; i++) {
    const { stdout } = await exec('tmux', ['list-panes', '-t', session, '-F', '#{pane_pid}']);
    const p = Number(stdout.trim());
    if (p > 0 && rssMb(p) !== null) return p;
    await sleep(200);
  }
  throw new Error(`orderbus ${args.join(' ')} did not start in tmux`);
}

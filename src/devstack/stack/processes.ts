import { spawn, execFile } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { promisify } from 'node:util';
import { OrderbusError } from '../../errors.js';

export const execFileAsync = promisify(execFile);

/** True if the PID is alive and its command line contains `marker` (guards against PID reuse). */
export function processAlive(pid: number | undefined, marker?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!marker) return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** Starts a detached process writing to `logFile`; it outlives the CLI. */
export function spawnDetached(
  cmd: string,
  args: string[],
  logFile: string,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

/** The PID listening on a TCP port, from `ss`, if it can be told. */
export async function portOwner(port: number): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('ss', ['-Hltnp', `sport = :${port}`]);
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(stdout);
    return m ? `${m[1]} (pid ${m[2]})` : stdout.trim() ? 'another process' : undefined;
  } catch {
    return undefined;
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  {
    timeoutMs,
    intervalMs = 300,
    onTimeout,
  }: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A non-retriable OrderbusError from the probe ends the wait at once (e.g. the process died).
    const r = await probe().catch((e: unknown) => {
      if (e instanceof OrderbusError && !e.retriable) throw e;
      return undefined;
    });
    if (r !== undefined && r !== false) return r;
    if (Date.now() > deadline) throw onTimeout();
    await new Promise((res) => setTimeout(res, intervalMs));
  }
}

/** SIGTERM, wait, then SIGKILL. */
export async function stopProcess(
  pid: number,
  graceMs = 20000,
): Promise<'stopped' | 'killed' | 'not-running'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return 'stopped';
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  return 'killed';
}

export async function commandExists(cmd: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts something that owns processes and files, and cleans it up if the start fails, so a
 * failed start leaves nothing running behind the error.
 */
export async function startedOrStopped<T extends { stop(): Promise<void> }>(
  handle: T,
  start: (handle: T) => Promise<void>,
): Promise<T> {
  try {
    await start(handle);
  } catch (e) {
    await handle.stop();
    throw e;
  }
  return handle;
}

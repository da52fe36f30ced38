import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../../src/paths.js';
import { setProcessNice } from '../../../src/runtime/runner.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { processCpuSeconds, type Benchmark } from '../harness.js';

/**
 * The processes a pipeline benchmark runs (pipeline services, the bare-kafkajs chain, the
 * reference server): every one is long-running, so any exit the benchmark did not ask for
 * (stopChild) fails it at its next assertAlive, naming the process and its last stderr.
 */

const children = new Set<ChildProcess>();
const labels = new Map<ChildProcess, string>();
const stopping = new WeakSet<ChildProcess>();
/** Set when a child exits on its own: the benchmark fails fast, naming it. */
let crashed: string | undefined;

/** Why a process exited on its own, once one did. */
export function crashReason(): string | undefined {
  return crashed;
}

export function assertAlive(): void {
  if (crashed) throw new Error(`a pipeline process crashed: ${crashed}`);
}

export interface SupervisedOptions {
  /** The process's name in CPU figures (childCpu). */
  label: string;
  /** Its name in the crash message; the label when not given. */
  name?: string;
  env: NodeJS.ProcessEnv;
  /** 'pipe' when the caller reads the child's stdout. */
  stdout?: 'ignore' | 'pipe';
}

/** Spawns `node ARGS…` under supervision (see above); stderr is kept as a 2,000-character tail. */
export function spawnSupervised(args: string[], o: SupervisedOptions): ChildProcess {
  const child = spawn(process.execPath, args, {
    env: o.env,
    stdio: ['ignore', o.stdout ?? 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-2000);
  });
  children.add(child);
  labels.set(child, o.label);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (stopping.has(child)) return;
    crashed ??= `${o.name ?? o.label} exited (${signal ?? `code ${code}`}): ${tail}`;
    process.stderr.write(`${crashed}\n`);
  });
  return child;
}

/** `orderbus ARGS…` (a long-running `orderbus run`) with the pipeline's environment. */
export function spawnOrderbus(
  p: TestPipeline,
  args: string[],
  extraEnv: Record<string, string> = {},
): ChildProcess {
  // ORDERBUS_BENCH_NODE_ARGS: node flags for the pipeline processes (e.g. `--cpu-prof
  // --cpu-prof-dir=/tmp/prof`: a CPU profile per process, written when the benchmark stops it).
  const nodeArgs = (process.env.ORDERBUS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnSupervised([...nodeArgs, join(projectRoot(), 'bin', 'orderbus'), ...args], {
    label: args.filter((a) => !a.startsWith('-') && a !== 'run').join('+') || 'run',
    name: `orderbus ${args.join(' ')}`,
    env: { ...process.env, ...p.env, ...extraEnv },
  });
}

/**
 * Sets the nice value of every thread of `child` (as `orderbus run --nice` does its own), so a
 * running process can be lowered and raised again between measurements. False where it could not.
 */
export function renice(child: ChildProcess, nice: number): boolean {
  try {
    setProcessNice(child.pid as number, nice);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (graceful: groups are left, pools closed), SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  stopping.add(child);
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stopChild));
}

/** CPU seconds (user + system) each running child has used so far, by its label. */
export function childCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of children) {
    try {
      out[labels.get(c) ?? String(c.pid)] = processCpuSeconds(c.pid as number);
    } catch {
      // exited
    }
  }
  return out;
}

/** The label of the running child with this pid, if it is one. */
export function childLabelOf(pid: number): string | undefined {
  for (const c of children) if (c.pid === pid) return labels.get(c);
  return undefined;
}

/**
 * A benchmark whose setup spawns processes: setup starts with no crash recorded, and one that
 * fails stops what it started (the harness runs teardown only after a setup that worked).
 * Teardown stops every process, then runs `cleanup`.
 */
export function supervisedBenchmark(
  b: Omit<Benchmark, 'setup' | 'teardown'> & { setup(): Promise<void>; cleanup(): Promise<void> },
): Benchmark {
  const teardown = async () => {
    await stopAll();
    await b.cleanup();
  };
  return {
    name: b.name,
    // Read when the results are written: a benchmark may describe what its setup found.
    get description() {
      return b.description;
    },
    runs: b.runs,
    run: () => b.run(),
    async setup() {
      crashed = undefined;
      try {
        await b.setup();
      } catch (e) {
        await teardown().catch(() => undefined);
        throw e;
      }
    },
    teardown,
  };
}

import { readFileSync } from 'node:fs';
import { runLoad } from '../../../src/devstack/load/load.js';
import { CORE, startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import type { Benchmark } from '../harness.js';
import { sleep } from './pacing.js';
import { assertAlive, stopChild, supervisedBenchmark } from './processes.js';
import { warmUp } from './progress.js';
import { spawnCheckout, spawnProviders } from './services.js';
import { RUNS } from './settings.js';

/**
 * memory-run: peak RSS (VmHWM) of one `orderbus run` process with the six core services under
 * load; reference: the same process idle after start-up. (All 14 services in one process open up
 * to ~80 PostgreSQL connections, more than this shared server's max_connections=100 leaves free.)
 */

const MEMORY_RATE = 50;
const MEMORY_MS = 20_000;
const cmd = 'npm run bench -- memory-run';

function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0; // exited: the crash check reports it
  }
}

export function memoryBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  return supervisedBenchmark({
    name: 'memory-run',
    description: `peak RSS of one \`orderbus run --service …\` process running the six core services (${CORE.join(', ')}; providers in their own process) placing ${MEMORY_RATE} orders/s for ${MEMORY_MS / 1000} s; reference: the same process idle after start-up and a 2 s warm-up`,
    runs: RUNS,
    async setup() {
      p = await startTestPipeline({ label: 'bench-mem', partitions: 12 });
      await spawnProviders(p);
    },
    async cleanup() {
      await p?.stop();
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const { url, child } = await spawnCheckout(p, CORE);
      try {
        await warmUp(p, url);
        const pid = child.pid as number;
        const idle = procStatusKb(pid, 'VmRSS');
        let maxRss = idle;
        const sampler = setInterval(() => {
          maxRss = Math.max(maxRss, procStatusKb(pid, 'VmRSS'));
        }, 200);
        const s = await runLoad({ url, ratePerSecond: MEMORY_RATE, durationMs: MEMORY_MS });
        await sleep(3000);
        clearInterval(sampler);
        assertAlive();
        const hwm = procStatusKb(pid, 'VmHWM');
        process.stderr.write(
          `    placed ${s.placed}, idle ${idle} kB, sampled max ${maxRss} kB, VmHWM ${hwm} kB\n`,
        );
        return [
          {
            metric: `orderbus run peak RSS (VmHWM) at ${MEMORY_RATE} orders/s`,
            value: Math.max(hwm, maxRss) / 1024,
            unit: 'MiB',
            better: 'lower',
            reference: { name: 'same process idle', value: idle / 1024 },
            command: cmd,
          },
        ];
      } finally {
        await stopChild(child);
      }
    },
  });
}

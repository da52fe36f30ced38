import type { Benchmark, Sample } from '../harness.js';
import { exec, orderbusInTmux, rssMb, runId, sleep } from './timed.js';

/** console-memory: RSS of `orderbus console --refresh 1` in tmux over minutes of refreshing. */

const CONSOLE_SECONDS = Number(process.env.ORDERBUS_BENCH_CONSOLE_SECONDS ?? 600);

export const consoleBench: Benchmark = {
  name: 'console-memory',
  description: `RSS of \`orderbus console --refresh 1\` in a pseudo-terminal (tmux, 120x40) over ${CONSOLE_SECONDS / 60} minutes of refreshing against the live stack`,
  runs: 1,
  async run(): Promise<Sample[]> {
    const session = `bench-console-${runId}`;
    try {
      const pid = await orderbusInTmux(session, ['console', '--refresh', '1']);
      await sleep(30_000); // warm-up: first polls, JIT, caches
      const first = rssMb(pid) ?? 0;
      let peak = first;
      let last = first;
      const until = Date.now() + CONSOLE_SECONDS * 1000;
      while (Date.now() < until) {
        await sleep(5000);
        const v = rssMb(pid);
        if (v === null) throw new Error('console exited during the benchmark');
        peak = Math.max(peak, v);
        last = v;
      }
      return [
        {
          metric: `console RSS after ${CONSOLE_SECONDS / 60} min of 1 s refreshes`,
          value: last,
          unit: 'MB',
          better: 'lower',
          reference: { name: 'RSS after 30 s warm-up', value: first },
          goal: 'flat (ratio ≈ 100 %)',
          command: 'orderbus console --refresh 1 (in tmux); /proc/PID/status VmRSS every 5 s',
        },
        {
          metric: 'console peak RSS',
          value: peak,
          unit: 'MB',
          better: 'lower',
          command: 'same run',
        },
      ];
    } finally {
      await exec('tmux', ['kill-session', '-t', session]).catch(() => undefined);
    }
  },
};

import type { Command } from 'commander';
import { parseDuration } from '../src/time.js';
import { configFrom } from './context.js';
import { parseNumber } from './options.js';
import { log, printJson, printTable } from './output.js';

const HINT = 'orderbus load --rate 50 --duration 60s';

export function defineLoad(program: Command): void {
  program
    .command('load')
    .description('place realistic orders through the real checkout API and print a latency summary')
    .requiredOption('--rate <n>', 'orders per second')
    .option('--duration <d>', 'how long (e.g. 60s, 5m); 0 runs until Ctrl-C', '30s')
    .option('--burst <factor>', 'multiply the rate by this during the middle third')
    .option('--url <url>', 'checkout API base URL (default from config)')
    .option('--json', 'machine output')
    .action(
      async (
        opts: { rate: string; duration: string; burst?: string; url?: string; json?: boolean },
        cmd: Command,
      ) => {
        const rate = parseNumber(opts.rate, '--rate', HINT);
        const burst = parseNumber(opts.burst, '--burst', `${HINT} --burst 10`);
        const config = configFrom(cmd);
        // 0 runs until Ctrl-C.
        const durationMs = parseDuration(opts.duration, '--duration', HINT) || Number.MAX_SAFE_INTEGER;
        const { runLoad } = await import('../src/devstack/load/load.js');
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        process.once('SIGTERM', () => ac.abort());
        const url = opts.url ?? `http://${config.http.host}:${config.http.checkoutPort}`;
        log(
          `placing ${rate} orders/s${burst ? ` (×${burst} burst in the middle third)` : ''} against ${url}`,
        );
        const s = await runLoad({
          url,
          ratePerSecond: rate,
          durationMs,
          ...(burst ? { burstFactor: burst } : {}),
          signal: ac.signal,
        });
        const { orderIds: _ids, ...summary } = s;
        if (opts.json) return printJson(summary);
        printTable(
          ['PLACED', 'ATTEMPTED', '2XX', '4XX', '5XX', 'ERRORS', 'P50 MS', 'P95 MS', 'P99 MS', 'RATE/S'],
          [
            [
              s.placed,
              s.attempted,
              sumStatus(s.byStatus, 2),
              sumStatus(s.byStatus, 4),
              sumStatus(s.byStatus, 5),
              s.errors,
              Number(s.latencyMs.p50.toFixed(1)),
              Number(s.latencyMs.p95.toFixed(1)),
              Number(s.latencyMs.p99.toFixed(1)),
              Number(s.achievedRate.toFixed(1)),
            ],
          ],
        );
        if (s.errors > 0 || sumStatus(s.byStatus, 5) > 0) process.exitCode = 4;
      },
    );
}

function sumStatus(byStatus: Record<string, number>, hundred: number): number {
  return Object.entries(byStatus).reduce(
    (n, [k, v]) => (Math.floor(Number(k) / 100) === hundred ? n + v : n),
    0,
  );
}

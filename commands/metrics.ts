import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { configFrom } from './context.js';
import { untilSignal } from './foreground.js';
import { boundHeapGrowth } from './heap.js';
import { parseNumber } from './options.js';
import { log } from './output.js';

export function defineMetrics(program: Command): void {
  program
    .command('metrics')
    .description(
      'serve Prometheus metrics: lag, time lag, status per group/partition, queue depths, DLQ sizes',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:9464')
    .option('--interval <seconds>', 'seconds between samples; a scrape serves the last one', '15')
    .action(async (opts: { listen: string; interval: string }, cmd: Command) => {
      const m = /^([\w.-]+|\[[\da-f:]+\]):(\d{1,5})$/i.exec(opts.listen);
      if (!m || Number(m[2]) > 65535)
        throw usageError(
          'BAD_LISTEN',
          `--listen takes HOST:PORT, got '${opts.listen}'`,
          'orderbus metrics --listen 127.0.0.1:9464',
        );
      const seconds = parseNumber(opts.interval, '--interval', 'orderbus metrics --interval 15');
      const config = configFrom(cmd);
      const { OpsContext } = await import('../src/ops/context.js');
      const { serveMetrics } = await import('../src/ops/metrics.js');
      const ctx = new OpsContext(config);
      boundHeapGrowth();
      const server = await serveMetrics(ctx, m[1] as string, Number(m[2]), seconds * 1000);
      log(`serving ${server.url}`);
      await untilSignal();
      await server.close();
      await ctx.close();
    });
}

import type { Command } from 'commander';
import { noColor } from '../src/config.js';
import { OrderbusError } from '../src/errors.js';
import { configFrom, type OpenConsole } from './context.js';
import { boundHeapGrowth } from './heap.js';
import { parseNumber } from './options.js';

export function defineConsole(program: Command, openConsole: OpenConsole): void {
  program
    .command('console')
    .description('the terminal console: live lag, queues, dead letters (browse, edit, redrive), trace')
    .option('--refresh <seconds>', 'refresh interval', '3')
    .action(async (opts: { refresh: string }, cmd: Command) => {
      const seconds = parseNumber(opts.refresh, '--refresh', 'orderbus console --refresh 3');
      if (!process.stdout.isTTY || !process.stdin.isTTY)
        throw new OrderbusError('NOT_A_TERMINAL', 'the console needs an interactive terminal', {
          hint: 'orderbus status --json (or lag/queues/dlq list) for scripts',
        });
      const config = configFrom(cmd);
      boundHeapGrowth();
      await openConsole(config, { refreshMs: seconds * 1000, color: !noColor() });
    });
}

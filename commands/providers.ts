import type { Command } from 'commander';
import { configFrom } from './context.js';
import { untilSignalThenStop } from './foreground.js';
import { log } from './output.js';

export function defineProviders(program: Command): void {
  program
    .command('providers')
    .description('run the simulated payment, shipping, email and partner-webhook providers (foreground)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { runServices } = await import('../src/runtime/runner.js');
      const { stop } = await runServices(configFrom(cmd), ['providers']);
      log('providers running (Ctrl-C stops)');
      await untilSignalThenStop(stop);
    });
}

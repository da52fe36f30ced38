import type { Command } from 'commander';
import { configFrom } from './context.js';
import { untilSignalThenStop } from './foreground.js';
import { log } from './output.js';

export function defineRun(program: Command): void {
  program
    .command('run')
    .description(
      'run the pipeline services (all, or those named with --service); SIGINT/SIGTERM stop them gracefully',
    )
    .option('--service <name...>', 'only these services (repeatable)')
    .option('--no-providers', 'do not start the simulated providers')
    .option(
      '--nice <n>',
      "lower this process's CPU priority (0-19), e.g. consumers beside checkout-api",
      Number,
    )
    .action(async (opts: { service?: string[]; providers: boolean; nice?: number }, cmd: Command) => {
      const { runServices } = await import('../src/runtime/runner.js');
      const { stop, services } = await runServices(configFrom(cmd), opts.service ?? [], {
        exclude: opts.providers ? [] : ['providers'],
        nice: opts.nice,
      });
      log(`running: ${services.map((s) => s.name).join(', ')} (Ctrl-C stops)`);
      await untilSignalThenStop(stop);
    });
}

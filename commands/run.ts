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
    .action(async (opts: { service?: string[]; providers: boolean }, cmd: Command) => {
      const { runServices } = await import('../src/runtime/runner.js');
      const { stop, services } = await runServices(configFrom(cmd), opts.service ?? [], {
        exclude: opts.providers ? [] : ['providers'],
      });
      log(`running: ${services.map((s) => s.name).join(', ')} (Ctrl-C stops)`);
      await untilSignalThenStop(stop);
    });
}

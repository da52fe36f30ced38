import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registerCommands } from '../commands/index.js';
import { redact } from '../src/redact.js';
import { ExitCode, OrderbusError, formatError, isOrderbusError } from '../src/errors.js';
import { projectRoot } from '../src/paths.js';

/** The version in package.json, which `npm version` keeps. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

/**
 * The only place that wires everything together and prints fatal errors. Commands throw; this
 * prints `error[CODE]: message` and the hint, and the stack trace only with --verbose.
 */
export async function run(argv: string[]): Promise<number> {
  const program = new Command('orderbus')
    .description('Event-driven order pipeline on Kafka + RabbitMQ, and the console to operate it')
    .option('--config <file>', 'config file (default ./orderbus.config.json)')
    .option(
      '--context <name>',
      'context (cluster profile) of the config file to use (default $ORDERBUS_CONTEXT, then currentContext)',
    )
    .option('--bootstrap-server <list>', 'Kafka bootstrap brokers host:port[,…] (overrides config)')
    .option('--verbose', 'print stack traces of errors')
    .version(packageVersion(), '-V, --version', 'print the version of orderbus')
    .showHelpAfterError('(run orderbus --help for usage)')
    .exitOverride();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });
  registerCommands(program, {
    openConsole: async (config, options) => {
      // React's development build records a performance.measure for every render, and Node keeps
      // every one of them: a console refreshing for hours grows without bound. The production
      // build is chosen by NODE_ENV when React is first loaded, which is here.
      process.env.NODE_ENV ??= 'production';
      return (await import('../ui/console.js')).runConsole(config, options);
    },
  });
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    return reportError(e, verbose);
  }
}

export function reportError(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
      return ExitCode.ok;
    return ExitCode.usage;
  }
  const err = isOrderbusError(e)
    ? e
    : new OrderbusError('INTERNAL', e instanceof Error ? e.message : String(e), {
        hint: 'rerun with --verbose and report the stack trace',
        cause: e,
      });
  // Driver messages and stacks can carry URLs with passwords or a secret read from config.
  process.stderr.write(`${redact(formatError(err))}\n`);
  if (verbose) {
    process.stderr.write(
      `${redact((err.cause instanceof Error ? err.cause.stack : undefined) ?? err.stack ?? '')}\n`,
    );
  }
  return err.exitCode;
}

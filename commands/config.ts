import type { Command } from 'commander';
import {
  configKeys,
  configOptionsFromFlags,
  loadConfigWithSources,
  type GlobalConfigFlags,
} from '../src/config.js';
import { redact } from '../src/redact.js';
import { printJson, printTable } from './output.js';

export function defineConfig(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration and where each value came from (secrets masked)')
    .option('--json', 'machine output')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const { config, sources } = loadConfigWithSources(
        configOptionsFromFlags(cmd.optsWithGlobals<GlobalConfigFlags>()),
      );
      const shown = redact(config);
      if (opts.json) return printJson({ config: shown, sources });
      const get = (path: string) =>
        path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], shown);
      printTable(
        ['KEY', 'VALUE', 'SOURCE', 'ENV'],
        [
          ...(config.context ? [['context', config.context, sources.context, 'ORDERBUS_CONTEXT']] : []),
          ...configKeys().map((k) => [k.path, JSON.stringify(get(k.path)), sources[k.path], k.env]),
        ],
      );
    });
}

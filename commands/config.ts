import type { Command } from 'commander';
import { configKeys, loadConfigWithSources } from '../src/config.js';
import { printJson, printTable } from './output.js';

export function defineConfig(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration and where each value came from')
    .option('--json', 'machine output')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const root = cmd.optsWithGlobals<{ config?: string; bootstrapServer?: string }>();
      const { config, sources } = loadConfigWithSources({
        ...(root.config ? { file: root.config } : {}),
        flags: root.bootstrapServer ? { 'kafka.brokers': root.bootstrapServer } : {},
      });
      const redacted = JSON.parse(JSON.stringify(config, (k, v: unknown) => (k === 'password' ? '***' : v)));
      if (opts.json) return printJson({ config: redacted, sources });
      const get = (path: string) =>
        path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], redacted);
      printTable(
        ['KEY', 'VALUE', 'SOURCE', 'ENV'],
        configKeys().map((k) => [k.path, JSON.stringify(get(k.path)), sources[k.path], k.env]),
      );
    });
}

import type { Command } from 'commander';
import { configOptionsFromFlags, type GlobalConfigFlags } from '../src/config.js';
import { listContexts, showContext, useContext, type ContextSummary } from '../src/config-contexts.js';
import { log, printJson, printTable } from './output.js';

const flags = (cmd: Command) => configOptionsFromFlags(cmd.optsWithGlobals<GlobalConfigFlags>());

const row = (c: ContextSummary) => [
  c.current ? '*' : '',
  c.name,
  c.error ? `error: ${c.error}` : c.bootstrapServers?.join(','),
  c.security,
  c.clusterId ?? '',
  c.readOnly ? 'yes' : c.error ? '' : 'no',
];
const HEADERS = ['CURRENT', 'NAME', 'BOOTSTRAP SERVERS', 'SECURITY', 'CLUSTER ID (PINNED)', 'READ-ONLY'];

/** `orderbus context list|show|use`: the named contexts (profiles) of the config file. */
export function defineContext(program: Command): void {
  const context = program
    .command('context')
    .description('list, show and choose the contexts (clusters) of the config file')
    .addHelpText(
      'after',
      '\nExamples:\n  orderbus context list\n  orderbus context use staging\n  orderbus --context prod lag',
    );
  context
    .command('list')
    .description('every context of the config file; * marks the one in use')
    .option('--json', 'machine output')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const { file, contexts } = listContexts(flags(cmd));
      if (opts.json) return printJson({ file, contexts });
      if (contexts.length === 0) return log(`no contexts in ${file} (add "contexts": { "NAME": { … } })`);
      printTable(HEADERS, contexts.map(row));
    });
  context
    .command('show [name]')
    .description('one context (default: the one in use): its settings, secrets masked, and their sources')
    .option('--json', 'machine output')
    .action((name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const detail = showContext(flags(cmd), name);
      if (opts.json) return printJson(detail);
      printTable(HEADERS, [row(detail)]);
      log(`\nfrom ${detail.file}:\n${JSON.stringify(detail.settings, null, 2)}`);
    });
  context
    .command('use <name>')
    .description('make NAME the current context (writes currentContext into the config file)')
    .action((name: string, _opts: unknown, cmd: Command) => {
      const { file, context: chosen } = useContext(flags(cmd), name);
      log(`current context: ${chosen} (${file})`);
    });
}

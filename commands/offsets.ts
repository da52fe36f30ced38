import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { ResetResult, ResetStrategy } from '../src/ops/offsets.js';
import { parseDatetime, parseDuration } from '../src/time.js';
import { withCommandOps } from './context.js';
import { collect } from './options.js';
import { formatTable, printResult } from './output.js';

export function renderReset(r: ResetResult): string {
  // A TOPIC column only when the reset covers several topics: one topic's table stays as it was.
  const several = r.topics.length > 1;
  const table = formatTable(
    [
      ...(several ? ['TOPIC'] : []),
      'PARTITION',
      'CURRENT',
      'TARGET',
      'DELTA',
      'RE-READ',
      'SKIPPED',
      'FROM',
      'UNTIL',
    ],
    r.rows.map((x) => [
      ...(several ? [x.topic] : []),
      x.partition,
      x.current,
      x.target,
      x.delta,
      x.reRead,
      x.skipped,
      x.fromTime,
      x.untilTime,
    ]),
  );
  const reRead = r.rows.reduce((s, x) => s + x.reRead, 0);
  const skipped = r.rows.reduce((s, x) => s + x.skipped, 0);
  const head = `group ${r.group} (${r.state}, ${r.members} member(s)) on ${r.topic}: ${r.strategy}`;
  const tail = r.executed
    ? `reset done: ${reRead} record(s) will be re-read, ${skipped} skipped.\nrollback: ${r.rollbackCommand ?? '-'}`
    : `dry run: ${reRead} record(s) would be re-read, ${skipped} skipped. Add --execute to reset (--export prints the plan as Kafka's CSV).`;
  return `${head}\n${table}\n${tail}`;
}

export function defineOffsets(program: Command): void {
  const offsets = program
    .command('offsets')
    .description("consumer group offsets (Kafka's reset strategies, planned first)");
  offsets
    .command('reset')
    .description(
      'reset a group on a topic; dry run until --execute; refused (exit 3) while the group has members',
    )
    .requiredOption('--group <group>', 'consumer group')
    .option('--topic <topic[:partitions]>', 'topic, or topic:0,3 for some partitions (repeatable)', collect)
    .option('--all-topics', 'every topic the group has committed offsets on')
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-offset <n>', 'to this offset')
    .option('--to-datetime <iso>', 'to the first record at or after this time (zone required)')
    .option('--by-duration <PnDTnHnM>', 'to the first record at or after now minus this duration')
    .option('--shift-by <n>', 'move by N (negative re-reads)')
    .option(
      '--from-file <file>',
      "set the offsets of a file: Kafka's CSV plan (topic,partition,offset) or an orderbus rollback file",
    )
    .option('--partitions <list>', 'only these partitions, e.g. 0,3')
    .option('--dry-run', "only plan (the default, as in Kafka's tool)")
    .option('--execute', 'really reset')
    .option(
      '--export',
      "print the plan as Kafka's CSV (topic,partition,offset), for --from-file of either tool",
    )
    .option('--wait-empty', 'with --execute: wait for the group to have no members')
    .option('--json', 'machine output')
    .action(async (opts: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const o = await import('../src/ops/offsets.js');
      const group = String(opts.group);
      const topics = (opts.topic as string[] | undefined) ?? [];
      if (opts.dryRun && opts.execute)
        throw usageError(
          'RESET_MODE',
          '--dry-run and --execute exclude each other',
          `orderbus offsets reset --group ${group} --topic TOPIC --to-earliest --execute`,
        );
      if (topics.length > 0 && opts.allTopics)
        throw usageError(
          'RESET_SCOPE',
          '--topic and --all-topics exclude each other',
          `orderbus offsets reset --group ${group} --all-topics --to-earliest`,
        );
      if (topics.length === 0 && !opts.allTopics && opts.fromFile === undefined)
        throw usageError(
          'RESET_SCOPE',
          'say which topics: --topic T (repeatable, T:0,3 for some partitions) or --all-topics',
          `orderbus offsets reset --group ${group} --topic order.events --to-earliest`,
        );
      const chosen = [
        'toEarliest',
        'toLatest',
        'toOffset',
        'toDatetime',
        'byDuration',
        'shiftBy',
        'fromFile',
      ].filter((k) => opts[k] !== undefined);
      if (chosen.length !== 1)
        throw usageError(
          'RESET_STRATEGY',
          `choose exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --by-duration, --shift-by, --from-file (got ${chosen.length})`,
          `orderbus offsets reset --group ${group} --topic ${topics[0] ?? 'TOPIC'} --to-earliest`,
        );
      const s = (k: string) => String(opts[k]);
      let strategy: ResetStrategy;
      switch (chosen[0]) {
        case 'toEarliest':
          strategy = { kind: 'earliest' };
          break;
        case 'toLatest':
          strategy = { kind: 'latest' };
          break;
        case 'toOffset':
          strategy = { kind: 'offset', offset: o.parseOffset(s('toOffset'), '--to-offset') };
          break;
        case 'toDatetime':
          strategy = { kind: 'datetime', at: parseDatetime(s('toDatetime'), '--to-datetime') };
          break;
        case 'byDuration': {
          const hint = `orderbus offsets reset --group ${group} --topic ${topics[0] ?? 'TOPIC'} --by-duration PT15M`;
          strategy = {
            kind: 'duration',
            ms: parseDuration(s('byDuration'), '--by-duration', hint),
            spec: s('byDuration'),
          };
          break;
        }
        case 'shiftBy':
          strategy = { kind: 'shift', by: o.parseOffset(s('shiftBy'), '--shift-by', true) };
          break;
        default:
          strategy = { kind: 'file', file: s('fromFile') };
      }
      const partitions = o.parsePartitions(opts.partitions as string | undefined);
      const scope = opts.allTopics ? { allTopics: true as const } : topics.map(o.parseTopicSelection);
      const { commandTarget, formatTarget } = await import('../src/ops/target.js');
      const result = await withCommandOps(cmd, async (ctx) => {
        const reset = await o.resetOffsets(ctx, group, scope, strategy, partitions, {
          execute: opts.execute === true,
          waitEmpty: opts.waitEmpty === true,
          command: process.argv.slice(2).join(' '),
        });
        // The target line's data goes into the JSON too: a script can check which cluster it changed.
        return { ...reset, cluster: await commandTarget(ctx) };
      });
      // As Kafka's tool: --export prints only the plan, which its --from-file (and ours) reads.
      if (opts.export)
        process.stdout.write(o.formatKafkaCsv(result.rows.map((r) => ({ ...r, offset: r.target }))));
      else printResult(result, opts.json === true, (r) => `${formatTarget(r.cluster)}\n${renderReset(r)}`);
    });
}

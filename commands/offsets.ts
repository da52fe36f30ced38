import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { ResetResult, ResetStrategy } from '../src/ops/offsets.js';
import type { ReplayResult } from '../src/ops/replay.js';
import { configFrom } from './context.js';
import { progressBar } from './format-ops.js';
import { formatTable, log, printJson } from './output.js';

export function renderReset(r: ResetResult): string {
  const table = formatTable(
    ['PARTITION', 'CURRENT', 'TARGET', 'DELTA', 'RE-READ', 'SKIPPED', 'FROM', 'UNTIL'],
    r.rows.map((x) => [
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
    : `dry run: ${reRead} record(s) would be re-read, ${skipped} skipped. Add --execute to reset.`;
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
    .requiredOption('--topic <topic>', 'topic')
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-offset <n>', 'to this offset')
    .option('--to-datetime <iso>', 'to the first record at or after this time (zone required)')
    .option('--by-duration <PnDTnHnM>', 'to the first record at or after now minus this duration')
    .option('--shift-by <n>', 'move by N (negative re-reads)')
    .option('--from-file <file>', 'restore offsets from a rollback file')
    .option('--partitions <list>', 'only these partitions, e.g. 0,3')
    .option('--execute', 'really reset')
    .option('--wait-empty', 'with --execute: wait for the group to have no members')
    .option('--json', 'machine output')
    .action(async (opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const o = await import('../src/ops/offsets.js');
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
          `orderbus offsets reset --group ${String(opts.group)} --topic ${String(opts.topic)} --to-earliest`,
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
          strategy = { kind: 'datetime', at: o.parseZonedDatetime(s('toDatetime')) };
          break;
        case 'byDuration':
          strategy = { kind: 'duration', ms: o.parseDuration(s('byDuration')), spec: s('byDuration') };
          break;
        case 'shiftBy':
          strategy = { kind: 'shift', by: o.parseOffset(s('shiftBy'), '--shift-by', true) };
          break;
        default:
          strategy = { kind: 'file', file: s('fromFile') };
      }
      const partitions = o.parsePartitions(opts.partitions as string | undefined);
      const config = configFrom(cmd);
      const { withOps } = await import('../src/ops/context.js');
      const result = await withOps(config, (ctx) =>
        o.resetOffsets(ctx, s('group'), s('topic'), strategy, partitions, {
          execute: opts.execute === true,
          waitEmpty: opts.waitEmpty === true,
          command: process.argv.slice(2).join(' '),
        }),
      );
      if (opts.json) printJson(result);
      else process.stdout.write(`${renderReset(result)}\n`);
    });
}

function parseBound(
  v: string,
  flag: string,
  o: typeof import('../src/ops/offsets.js'),
): { offset: number } | { time: Date } {
  if (/^\d+$/.test(v)) return { offset: Number(v) };
  return { time: o.parseZonedDatetime(v, flag) };
}

export function renderReplay(r: ReplayResult): string {
  const table = formatTable(
    ['PARTITION', 'FROM', 'UNTIL', 'RECORDS', 'FIRST', 'LAST'],
    r.partitions.map((p) => [p.partition, p.from, p.until, p.records, p.fromTime, p.untilTime]),
  );
  const target = 'topic' in r.target ? `into ${r.target.topic}` : `to group ${r.target.group}`;
  const tail = r.execute
    ? 'topic' in r.target
      ? `copied ${r.copied} record(s) ${target} in ${r.seconds.toFixed(1)}s${r.createdTopic ? ' (topic created)' : ''}; audit ${r.auditRef ?? '-'}`
      : `group rewound; ${r.records} record(s) will be re-consumed. rollback: ${r.reset?.rollbackCommand ?? '-'}`
    : `dry run: ${r.records} record(s) would be replayed ${target}. Add --execute.`;
  return `${table}\n${tail}`;
}

export function defineReplay(program: Command): void {
  program
    .command('replay <topic>')
    .description(
      'replay a range of a topic into another topic (copy) or to a group (rewind); dry run until --execute',
    )
    .option(
      '--from-offset <n>',
      'start offset (with --partition: of that partition; else of every partition)',
    )
    .option('--partition <p>', 'only this partition')
    .option('--from-time <iso>', 'start at the first record at or after this time (zone required)')
    .option('--until <offset|iso>', 'end (exclusive): an offset or a time')
    .option('--to-topic <topic>', 'copy into this topic (created like the source when missing)')
    .option('--group <group>', 'rewind this group to the start of the range')
    .option('--execute', 'really replay')
    .option('--wait-empty', 'with --group: wait for the group to have no members')
    .option('--json', 'machine output')
    .action(
      async (
        topic: string,
        opts: {
          fromOffset?: string;
          partition?: string;
          fromTime?: string;
          until?: string;
          toTopic?: string;
          group?: string;
          execute?: boolean;
          waitEmpty?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const o = await import('../src/ops/offsets.js');
        if ((opts.fromOffset === undefined) === (opts.fromTime === undefined))
          throw usageError(
            'REPLAY_START',
            'replay needs exactly one of --from-offset N or --from-time ISO',
            `orderbus replay ${topic} --from-offset 0 --to-topic ${topic}.sandbox`,
          );
        const from =
          opts.fromOffset !== undefined
            ? { offset: o.parseOffset(opts.fromOffset, '--from-offset') }
            : { time: o.parseZonedDatetime(opts.fromTime as string, '--from-time') };
        const partition =
          opts.partition !== undefined ? o.parseOffset(opts.partition, '--partition') : undefined;
        const until = opts.until !== undefined ? parseBound(opts.until, '--until', o) : undefined;
        const config = configFrom(cmd);
        const { withOps } = await import('../src/ops/context.js');
        const { replay } = await import('../src/ops/replay.js');
        const result = await withOps(config, (ctx) =>
          replay(ctx, {
            topic,
            from,
            ...(partition !== undefined ? { partition } : {}),
            ...(until ? { until } : {}),
            ...(opts.toTopic ? { toTopic: opts.toTopic } : {}),
            ...(opts.group ? { group: opts.group } : {}),
            execute: opts.execute ?? false,
            waitEmpty: opts.waitEmpty ?? false,
            command: process.argv.slice(2).join(' '),
            ...(opts.execute && !opts.json ? { onProgress: progressBar('replay') } : {}),
          }),
        );
        if (opts.json) printJson(result);
        else process.stdout.write(`${renderReplay(result)}\n`);
        if (!opts.json && result.execute) log('done');
      },
    );
}

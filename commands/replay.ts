import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { ReplayResult } from '../src/ops/replay.js';
import { parseDatetime } from '../src/time.js';
import { withCommandOps } from './context.js';
import { progressBar } from './format-ops.js';
import { formatTable, log, printResult } from './output.js';

/** `--until`: an offset or a time. */
function parseBound(v: string, flag: string): { offset: number } | { time: Date } {
  if (/^\d+$/.test(v)) return { offset: Number(v) };
  return { time: parseDatetime(v, flag) };
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
            : { time: parseDatetime(opts.fromTime as string, '--from-time') };
        const partition =
          opts.partition !== undefined ? o.parseOffset(opts.partition, '--partition') : undefined;
        const until = opts.until !== undefined ? parseBound(opts.until, '--until') : undefined;
        const { replay } = await import('../src/ops/replay.js');
        const { commandTarget, formatTarget } = await import('../src/ops/target.js');
        const result = await withCommandOps(cmd, async (ctx) => {
          const replayed = await replay(ctx, {
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
          });
          return { ...replayed, cluster: await commandTarget(ctx) };
        });
        printResult(result, opts.json, (r) => `${formatTarget(r.cluster)}\n${renderReplay(r)}`);
        if (!opts.json && result.execute) log('done');
      },
    );
}

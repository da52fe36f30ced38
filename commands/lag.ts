import type { Command } from 'commander';
import type { GroupLag, LagReport } from '../src/ops/lag.js';
import { withCommandOps } from './context.js';
import { eta, ms } from './format-ops.js';
import { collect, parseNumber, parseWatchSeconds } from './options.js';
import { formatTable, log, paint, printResult } from './output.js';
import { usageError } from '../src/errors.js';
import { watch } from './watch.js';

export function renderLag(report: LagReport): string {
  if (report.groups.length === 0) return 'no consumer groups';
  const blocks = report.groups.map((g: GroupLag) => {
    const head = `${paint.bold(g.group)}  ${paint.status(g.status)}  state ${g.state}, ${g.members} member(s), lag ${g.totalLag}, time lag ${ms(g.maxTimeLagMs)}, rate ${g.consumeRate === null ? '-' : `${g.consumeRate.toFixed(1)}/s`}, eta ${eta(g.etaSeconds)}`;
    const reasons = g.reasons.length ? `\n${g.reasons.map((r) => paint.dim(`  ${r}`)).join('\n')}` : '';
    const table = formatTable(
      [
        'TOPIC',
        'PARTITION',
        'CURRENT-OFFSET',
        'LOG-END-OFFSET',
        'LAG',
        'TIME-LAG',
        'ETA',
        'CONSUMER-ID',
        'HOST',
        'CLIENT-ID',
        'STATUS',
      ],
      g.partitions.map((p) => [
        p.topic,
        p.partition,
        p.committed,
        p.logEnd,
        p.lag,
        ms(p.timeLagMs),
        eta(p.etaSeconds),
        p.owner?.memberId ?? '-',
        p.owner?.host ?? '-',
        p.owner?.clientId ?? '-',
        paint.status(p.status),
      ]),
    );
    return `${head}${reasons}\n${table}`;
  });
  return `${blocks.join('\n\n')}\n${paint.dim(`window ${report.windowSeconds.toFixed(1)}s over ${report.samples} sample(s) at ${report.at}`)}`;
}

/**
 * `--format kafka`: the columns of `kafka-consumer-groups --describe`, laid out as its
 * ConsumerGroupCommand prints them (GROUP on every row, '-' for no offset or owner; the
 * group, topic, consumer and host columns at least 15 wide), so scripts written for it read this.
 * Its notes on empty or rebalancing groups go to stderr, as there; like it, no final newline.
 */
export function renderKafkaDescribe(report: LagReport): string {
  return report.groups
    .map((g) => {
      if (g.state === 'Empty') log(`\nConsumer group '${g.group}' has no active members.`);
      else if (/Rebalance|Assigning|Reconciling/.test(g.state))
        log(`\nWarning: Consumer group '${g.group}' is rebalancing.`);
      const rows = [...g.partitions]
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
        .map((p) => [
          g.group,
          p.topic,
          String(p.partition),
          p.committed === null ? '-' : String(p.committed),
          String(p.logEnd),
          p.lag === null ? '-' : String(p.lag),
          p.owner?.memberId ?? '-',
          p.owner?.host ?? '-',
          p.owner?.clientId ?? '-',
        ]);
      const header = [
        'GROUP',
        'TOPIC',
        'PARTITION',
        'CURRENT-OFFSET',
        'LOG-END-OFFSET',
        'LAG',
        'CONSUMER-ID',
        'HOST',
        'CLIENT-ID',
      ];
      const width = (i: number) => Math.max(15, ...rows.map((r) => (r[i] as string).length));
      const widths = [width(0), width(1), 10, 15, 15, 15, width(6), width(7)];
      const line = (cells: string[]) =>
        cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] as number) : c)).join(' ');
      return `\n${[header, ...rows].map(line).join('\n')}`;
    })
    .join('\n');
}

interface LagOptions {
  group?: string[];
  topic?: string;
  watch?: string | true;
  sample?: string;
  json?: boolean;
  format?: string;
  failOn?: string;
}

export function defineLag(program: Command): void {
  program
    .command('lag')
    .description('consumer lag per group and partition: offsets, time lag, ETA, Burrow-style status')
    .option('--group <group>', 'only this group (repeatable)', collect)
    .option('--topic <topic>', 'only this topic')
    .option('--watch [seconds]', 'refresh every N seconds (default 5); the status window fills live')
    .option(
      '--sample <seconds>',
      'seconds of sampling for the status window without --watch (0: one snapshot)',
    )
    .option('--json', 'machine output (with --watch: one JSON document per line)')
    .option(
      '--format <format>',
      "'table' (default), or 'kafka': the columns of kafka-consumer-groups --describe",
    )
    .option('--fail-on <status>', 'exit 1 when a group is at or above WARN, REWIND, STALL, STOP or ERR')
    .action(async (opts: LagOptions, cmd: Command) => {
      const sample = parseNumber(opts.sample, '--sample', 'orderbus lag --sample 0');
      const { parseFailOn, reaches, lagLevel } = await import('../src/ops/fail-on.js');
      const failOn = opts.failOn === undefined ? undefined : parseFailOn(opts.failOn, 'lag');
      if (opts.format !== undefined && opts.format !== 'table' && opts.format !== 'kafka')
        throw usageError(
          'BAD_FORMAT',
          `--format takes table or kafka, got '${opts.format}'`,
          'orderbus lag --format kafka',
        );
      const render = opts.format === 'kafka' ? renderKafkaDescribe : renderLag;
      const lag = await import('../src/ops/lag.js');
      const query = {
        ...(opts.group ? { groups: opts.group } : {}),
        ...(opts.topic ? { topic: opts.topic } : {}),
      };
      await withCommandOps(cmd, async (ctx) => {
        const { config } = ctx;
        if (opts.watch === undefined) {
          const sampleSeconds = sample ?? config.lag.sampleSeconds;
          const report = await lag.lagReport(ctx, { ...query, sampleSeconds });
          if (opts.format === 'kafka' && !opts.json) process.stdout.write(render(report));
          else printResult(report, opts.json, render);
          if (failOn && reaches(lagLevel(report.groups), failOn)) process.exitCode = 1;
          return;
        }
        const monitor = new lag.LagMonitor(config.lag.windowSamples, config.lag.thresholds);
        const snapshot = async () => {
          monitor.add(await lag.lagSnapshot(ctx, { ...query, timeLag: true }));
          return lag.sortWorstFirst(monitor.evaluate());
        };
        await watch(parseWatchSeconds(opts.watch, 'orderbus lag --watch 5'), snapshot, {
          json: opts.json === true,
          render,
        });
      });
    });
}

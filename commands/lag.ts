import type { Command } from 'commander';
import type { GroupLag, LagReport } from '../src/ops/lag.js';
import { withCommandOps } from './context.js';
import { eta, ms } from './format-ops.js';
import { collect, parseNumber, parseWatchSeconds } from './options.js';
import { formatTable, paint, printResult } from './output.js';
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

interface LagOptions {
  group?: string[];
  topic?: string;
  watch?: string | true;
  sample?: string;
  json?: boolean;
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
    .action(async (opts: LagOptions, cmd: Command) => {
      const sample = parseNumber(opts.sample, '--sample', 'orderbus lag --sample 0');
      const lag = await import('../src/ops/lag.js');
      const query = {
        ...(opts.group ? { groups: opts.group } : {}),
        ...(opts.topic ? { topic: opts.topic } : {}),
      };
      await withCommandOps(cmd, async (ctx) => {
        const { config } = ctx;
        if (opts.watch === undefined) {
          const sampleSeconds = sample ?? config.lag.sampleSeconds;
          return printResult(await lag.lagReport(ctx, { ...query, sampleSeconds }), opts.json, renderLag);
        }
        const monitor = new lag.LagMonitor(config.lag.windowSamples, config.lag.thresholds);
        const snapshot = async () => {
          monitor.add(await lag.lagSnapshot(ctx, { ...query, timeLag: true }));
          return lag.sortWorstFirst(monitor.evaluate());
        };
        await watch(parseWatchSeconds(opts.watch, 'orderbus lag --watch 5'), snapshot, {
          json: opts.json === true,
          render: renderLag,
        });
      });
    });
}

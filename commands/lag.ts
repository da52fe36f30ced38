import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { GroupLag, LagReport } from '../src/ops/lag.js';
import type { QueueInfo } from '../src/ops/queues.js';
import { configFrom } from './context.js';
import { eta, ms } from './format-ops.js';
import { formatTable, log, paint, printJson } from './output.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

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

export function renderQueues(queues: QueueInfo[]): string {
  return formatTable(
    ['QUEUE', 'TYPE', 'READY', 'UNACKED', 'CONSUMERS', 'PUBLISH/S', 'DELIVER/S', 'ACK/S', 'DLQ', 'DLQ-DEPTH'],
    queues
      .filter((q) => q.role !== 'retry')
      .map((q) => [
        q.name,
        q.type,
        q.ready,
        q.unacked,
        q.consumers,
        q.publishRate,
        q.deliverRate,
        q.ackRate,
        q.dlq,
        q.dlqDepth,
      ]),
  );
}

function positiveSeconds(v: string | true | undefined, flag: string, dflt: number): number {
  if (v === undefined || v === true) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw usageError(
      'BAD_INTERVAL',
      `${flag} takes a number of seconds > 0, got '${v}'`,
      `orderbus lag ${flag} 5`,
    );
  return n;
}

async function watchLoop(intervalS: number, tick: () => Promise<void>): Promise<void> {
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  while (!stop) {
    await tick();
    const until = Date.now() + intervalS * 1000;
    while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }
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
    .action(
      async (
        opts: { group?: string[]; topic?: string; watch?: string | true; sample?: string; json?: boolean },
        cmd: Command,
      ) => {
        const config = configFrom(cmd);
        const sample = opts.sample === undefined ? config.lag.sampleSeconds : Number(opts.sample);
        if (!Number.isFinite(sample) || sample < 0)
          throw usageError(
            'BAD_SAMPLE',
            `--sample takes seconds ≥ 0, got '${opts.sample}'`,
            'orderbus lag --sample 0',
          );
        const { withOps } = await import('../src/ops/context.js');
        const lag = await import('../src/ops/lag.js');
        const query = {
          ...(opts.group ? { groups: opts.group } : {}),
          ...(opts.topic ? { topic: opts.topic } : {}),
        };
        await withOps(config, async (ctx) => {
          if (opts.watch === undefined) {
            const report = await lag.lagReport(ctx, { ...query, sampleSeconds: sample });
            if (opts.json) printJson(report);
            else process.stdout.write(`${renderLag(report)}\n`);
            return;
          }
          const interval = positiveSeconds(opts.watch, '--watch', 5);
          const monitor = new lag.LagMonitor(config.lag.windowSamples, config.lag.thresholds);
          await watchLoop(interval, async () => {
            try {
              monitor.add(await lag.lagSnapshot(ctx, { ...query, timeLag: true }));
              const report = lag.sortWorstFirst(monitor.evaluate());
              if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
              else process.stdout.write(`\u001b[2J\u001b[H${renderLag(report)}\n`);
            } catch (e) {
              // Keep watching through an outage; say so in place.
              const err = e as { code?: string; message?: string };
              log(`error[${err.code ?? 'ERROR'}]: ${err.message ?? String(e)} (retrying)`);
            }
          });
        });
      },
    );

  program
    .command('queues')
    .description('every RabbitMQ queue: ready, unacked, consumers, rates, type, and its DLQ depth')
    .option('--watch [seconds]', 'refresh every N seconds (default 5)')
    .option('--json', 'machine output')
    .action(async (opts: { watch?: string | true; json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const { withOps } = await import('../src/ops/context.js');
      const { listQueues } = await import('../src/ops/queues.js');
      await withOps(config, async (ctx) => {
        const once = async (clear: boolean) => {
          const qs = await listQueues(ctx);
          if (opts.json)
            process.stdout.write(opts.watch ? `${JSON.stringify(qs)}\n` : `${JSON.stringify(qs, null, 2)}\n`);
          else process.stdout.write(`${clear ? '\u001b[2J\u001b[H' : ''}${renderQueues(qs)}\n`);
        };
        if (opts.watch === undefined) return once(false);
        await watchLoop(positiveSeconds(opts.watch, '--watch', 5), () =>
          once(true).catch((e: unknown) => log(String(e))),
        );
      });
    });

  program
    .command('status')
    .description("the pipeline's health at a glance: components, consumer lag, queues, dead letters")
    .option('--json', 'machine output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const { withOps } = await import('../src/ops/context.js');
      const { statusReport } = await import('../src/ops/status.js');
      const report = await withOps(config, (ctx) => statusReport(ctx));
      if (opts.json) printJson(report);
      else {
        const out = process.stdout;
        out.write(
          `${formatTable(
            ['COMPONENT', 'STATUS', 'ADDRESS'],
            report.components.map((c) => [c.name, paint.status(c.status), c.address]),
          )}\n\n`,
        );
        out.write(
          `${formatTable(
            ['GROUP', 'STATUS', 'STATE', 'MEMBERS', 'LAG', 'TIME-LAG', 'ETA'],
            report.groups.map((g) => [
              g.group,
              paint.status(g.status),
              g.state,
              g.members,
              g.totalLag,
              ms(g.maxTimeLagMs),
              eta(g.etaSeconds),
            ]),
          )}\n\n`,
        );
        out.write(`${renderQueues(report.queues)}\n\n`);
        out.write(
          `${formatTable(
            ['DLQ', 'KIND', 'COUNT'],
            report.dlqs.map((d) => [d.name, d.kind, d.count]),
          )}\n`,
        );
        out.write(
          report.healthy
            ? `\n${paint.green('healthy')}\n`
            : `\n${report.problems.map((p) => paint.yellow(`! ${p}`)).join('\n')}\n`,
        );
      }
      if (!report.healthy) process.exitCode = 1;
    });

  program
    .command('metrics')
    .description(
      'serve Prometheus metrics: lag, time lag, status per group/partition, queue depths, DLQ sizes',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:9464')
    .action(async (opts: { listen: string }, cmd: Command) => {
      const m = /^([\w.-]+|\[[\da-f:]+\]):(\d{1,5})$/i.exec(opts.listen);
      if (!m || Number(m[2]) > 65535)
        throw usageError(
          'BAD_LISTEN',
          `--listen takes HOST:PORT, got '${opts.listen}'`,
          'orderbus metrics --listen 127.0.0.1:9464',
        );
      const config = configFrom(cmd);
      const { OpsContext } = await import('../src/ops/context.js');
      const { serveMetrics } = await import('../src/ops/metrics.js');
      const ctx = new OpsContext(config);
      const server = await serveMetrics(ctx, m[1] as string, Number(m[2]));
      log(`serving ${server.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await server.close();
      await ctx.close();
    });
}

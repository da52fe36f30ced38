import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { configFrom } from './context.js';
import { formatTable, paint, printJson } from './output.js';

export function defineTrace(program: Command): void {
  program
    .command('trace <orderId>')
    .description('one timeline of an order across Kafka, dead letters, RabbitMQ, the database and providers')
    .option('--json', 'machine output')
    .action(async (orderId: string, opts: { json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const { withOps } = await import('../src/ops/context.js');
      const { traceOrder } = await import('../src/ops/trace.js');
      const t = await withOps(config, (ctx) => traceOrder(ctx, orderId));
      if (opts.json) return printJson(t);
      const out = process.stdout;
      out.write(
        `order ${paint.bold(t.orderId)}  status ${t.status ?? 'not in the database'}  (${t.topic}/${t.partition})\n\n`,
      );
      out.write(
        `${formatTable(
          ['AT', 'SOURCE', 'WHERE', 'WHAT'],
          t.entries.map((e) => [e.at, e.source, e.where, e.what]),
        )}\n\n`,
      );
      out.write(
        `${formatTable(
          ['GROUP', 'COMMITTED', 'NOT YET SEEN'],
          t.groups.map((g) => [
            g.group,
            g.committed,
            g.unseen.length ? g.unseen.map((u) => `${u.type}@${u.offset}`).join(', ') : 'all seen',
          ]),
        )}\n`,
      );
      for (const u of t.unavailable) out.write(paint.yellow(`! ${u.source} unavailable: ${u.error}\n`));
    });

  program
    .command('audit')
    .description('what changing commands and drills did: who, when, plan, result, payload hashes')
    .option(
      '--since <iso|duration>',
      'only records since a time (ISO with zone) or a duration ago (30m, 2h, 7d)',
    )
    .option('--command <prefix>', 'only commands starting with this (e.g. "dlq redrive")')
    .option('--limit <n>', 'only the last N')
    .option('--json', 'machine output')
    .action(
      async (opts: { since?: string; command?: string; limit?: string; json?: boolean }, cmd: Command) => {
        let since: Date | undefined;
        if (opts.since !== undefined) {
          const d = /^(\d+)(m|h|d)$/.exec(opts.since);
          if (d)
            since = new Date(Date.now() - Number(d[1]) * { m: 60000, h: 3600000, d: 86400000 }[d[2] as 'm']);
          else {
            const { parseZonedDatetime } = await import('../src/ops/offsets.js');
            since = parseZonedDatetime(opts.since, '--since');
          }
        }
        if (opts.limit !== undefined && !/^\d+$/.test(opts.limit))
          throw usageError(
            'BAD_NUMBER',
            `--limit takes a positive integer, got '${opts.limit}'`,
            'orderbus audit --limit 20',
          );
        const config = configFrom(cmd);
        const { withOps } = await import('../src/ops/context.js');
        const { listAudit } = await import('../src/ops/audit.js');
        const records = await withOps(config, (ctx) =>
          listAudit(ctx, {
            ...(since ? { since } : {}),
            ...(opts.command ? { command: opts.command } : {}),
            ...(opts.limit ? { limit: Number(opts.limit) } : {}),
          }),
        );
        if (opts.json) return printJson(records);
        process.stdout.write(
          `${formatTable(
            ['AT', 'OPERATOR', 'HOST', 'COMMAND', 'RESULT', 'ID'],
            records.map((r) => [r.at, r.operator, r.host, r.command, JSON.stringify(r.result), r.id]),
          )}\n`,
        );
      },
    );
}

import type { Command } from 'commander';
import type { TraceResult } from '../src/ops/trace.js';
import { withCommandOps } from './context.js';
import { formatTable, paint, printResult } from './output.js';

export function renderTrace(t: TraceResult): string {
  const head = `order ${paint.bold(t.orderId)}  status ${t.status ?? 'not in the database'}  (${t.topic}/${t.partition})`;
  const entries = formatTable(
    ['AT', 'SOURCE', 'WHERE', 'WHAT'],
    t.entries.map((e) => [e.at, e.source, e.where, e.what]),
  );
  const groups = formatTable(
    ['GROUP', 'COMMITTED', 'NOT YET SEEN'],
    t.groups.map((g) => [
      g.group,
      g.committed,
      g.unseen.length ? g.unseen.map((u) => `${u.type}@${u.offset}`).join(', ') : 'all seen',
    ]),
  );
  const unavailable = t.unavailable.map((u) => paint.yellow(`! ${u.source} unavailable: ${u.error}`));
  return [`${head}\n\n${entries}\n\n${groups}`, ...unavailable].join('\n');
}

export function defineTrace(program: Command): void {
  program
    .command('trace <orderId>')
    .description('one timeline of an order across Kafka, dead letters, RabbitMQ, the database and providers')
    .option('--json', 'machine output')
    .action(async (orderId: string, opts: { json?: boolean }, cmd: Command) => {
      const { traceOrder } = await import('../src/ops/trace.js');
      const trace = await withCommandOps(cmd, (ctx) => traceOrder(ctx, orderId));
      printResult(trace, opts.json, renderTrace);
    });
}

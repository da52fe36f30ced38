import type { Command } from 'commander';
import { isOrderbusError, usageError } from '../src/errors.js';
import type { DeadLetterSearch, TraceResult, TraceWindow } from '../src/ops/trace.js';
import { withCommandOps } from './context.js';
import { parseTimeOrAgo } from './options.js';
import { formatTable, paint, printResult } from './output.js';

/** Which stretch of the partition was read, and the command that reads more. */
export function renderWindow(w: TraceWindow): string {
  const basis = { order: "the order's times in the database", since: '--since', default: 'the last 24 h' }[
    w.basis
  ];
  const read = `read ${w.records} records: offsets ${w.fromOffset}–${w.untilOffset} of ${w.partitionLow}–${w.partitionHigh}, from ${w.fromTime} to ${w.untilTime ?? 'the end'} (${basis})`;
  return w.widen ? `${read}\nevents outside it are not shown; to read more: ${w.widen}` : read;
}

/** A DLQ whose search stopped at the cap: how far it read, and the command that reads it all. */
function renderSearch(d: DeadLetterSearch): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const from = d.since ? ` written since ${d.since}` : ' (oldest first)';
  return paint.yellow(
    `! ${d.dlq}: searched ${n(d.searched)} of ${n(d.total)} letters${from}; the rest: ${d.searchAll ?? '-'}`,
  );
}

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
  const window = t.scanned ? [`\n${paint.dim(renderWindow(t.scanned))}`] : [];
  const unavailable = t.unavailable.map((u) => paint.yellow(`! ${u.source} unavailable: ${u.error}`));
  const partial = (t.deadLetterSearch ?? []).filter((d) => !d.complete).map(renderSearch);
  return [`${head}\n\n${entries}\n\n${groups}`, ...window, ...partial, ...unavailable].join('\n');
}

export function defineTrace(program: Command): void {
  program
    .command('trace <orderId>')
    .description('one timeline of an order across Kafka, dead letters, RabbitMQ, the database and providers')
    .option(
      '--since <time|duration>',
      "read the order's partition from this time (2h, 7d, or an ISO time with a zone) to its end, instead of the window the order's row gives (or the last 24 h without one)",
    )
    .option('--json', 'machine output')
    .action(async (orderId: string, opts: { json?: boolean; since?: string }, cmd: Command) => {
      const since = opts.since === undefined ? undefined : parseSince(opts.since, orderId);
      const { traceOrder } = await import('../src/ops/trace.js');
      const trace = await withCommandOps(cmd, (ctx) => traceOrder(ctx, orderId, since ? { since } : {}));
      printResult(trace, opts.json, renderTrace);
    });
}

/** --since as parseTimeOrAgo reads it; a bad one names a trace command that works. */
function parseSince(v: string, orderId: string): Date {
  try {
    return parseTimeOrAgo(v, '--since');
  } catch (e) {
    if (!isOrderbusError(e)) throw e;
    throw usageError(
      e.code,
      e.message,
      `orderbus trace ${orderId} --since 2h (or --since 2026-11-23T10:15:00Z)`,
    );
  }
}

import { percentileOf } from '../load/load.js';
import type { OpsContext } from '../../ops/context.js';
import { showDlq, type DlqMessage } from '../../ops/dlq/index.js';
import type { TraceResult } from '../../ops/trace.js';
import type { LedgerEntry } from '../../providers/index.js';
import { KafkaDlqHeaders } from '../../events/types.js';
import { dlqName, topologyNames, topologyOptions } from '../../tasks/topology.js';
import type { DrillPipeline } from './pipeline.js';
import type { Duplicates, OrderAccount, TaskAccount } from './report.js';

/**
 * The business accounting of a drill, from the real records: the order rows, the provider
 * ledgers (what was really charged, refunded, e-mailed and delivered) and the dead letters.
 *
 * orders lost = placed − (completed + compensated + in a DLQ + in flight). "In flight" is only
 * what still has visible pending work (an unsent outbox row, a shipment job); once the pipeline
 * is quiet, an order that is neither done, failed, nor dead-lettered has been lost.
 */
export interface Verification {
  orders: OrderAccount;
  duplicates: Duplicates;
  tasks: TaskAccount;
  dlq: { kafka: number; email: number; webhook: number; analytics: number };
  /** Dead-lettered undecodable/invalid records, unique per (group, partition, offset). */
  poisonDeadLettered: number;
  orderCompletionMs: { p50: number; p99: number; max: number };
}

const TERMINAL_FAILED = new Set(['failed', 'cancelled']);
const SAMPLE = 10;

/** Ledger entries beyond the first per business effect (a second charge for one order…). */
export function duplicatesBy(entries: LedgerEntry[], kind: string, key: (e: LedgerEntry) => string): number {
  const seen = new Set<string>();
  let dups = 0;
  for (const e of entries) {
    if (e.kind !== kind) continue;
    const k = key(e);
    if (seen.has(k)) dups++;
    seen.add(k);
  }
  return dups;
}

async function readDlq(ctx: OpsContext, name: string): Promise<DlqMessage[]> {
  try {
    return await showDlq(ctx, name, { limit: 1_000_000 });
  } catch (e) {
    if ((e as { code?: string }).code === 'UNKNOWN_DLQ') return [];
    throw e;
  }
}

export async function verifyDrill(
  ctx: OpsContext,
  pipeline: DrillPipeline,
  placed: string[],
  settled: boolean,
): Promise<Verification> {
  const config = pipeline.config;
  const pool = pipeline.pool;
  const t = topologyNames(topologyOptions(config));
  const [kafkaDead, emailDead, webhookDead, analyticsDead] = await Promise.all([
    readDlq(ctx, config.topics.orderEventsDlq),
    readDlq(ctx, dlqName(t.queues['email.tasks'])),
    readDlq(ctx, dlqName(t.queues['webhook.tasks'])),
    readDlq(ctx, dlqName(t.queues['analytics.tasks'])),
  ]);
  const [payment, email, webhook] = await Promise.all([
    pipeline.providers.payment.ledger(),
    pipeline.providers.email.ledger(),
    pipeline.providers.webhook.ledger(),
  ]);
  const status = new Map<string, string>();
  const rows = await pool.query<{ id: string; status: string; ms: number | null }>(
    `SELECT id, status, CASE WHEN status = 'notified' THEN extract(epoch FROM updated_at - created_at) * 1000 END AS ms
     FROM orders WHERE id = ANY($1::uuid[])`,
    [placed],
  );
  const completion: number[] = [];
  for (const r of rows.rows) {
    status.set(r.id, r.status);
    if (r.ms !== null) completion.push(Number(r.ms));
  }
  completion.sort((a, b) => a - b);
  const pending = new Set(
    (
      await pool.query<{ order_id: string }>(
        `SELECT order_id FROM outbox WHERE sent_at IS NULL
         UNION SELECT order_id FROM shipments WHERE status = 'pending'`,
      )
    ).rows.map((r) => r.order_id),
  );
  const heldStock = new Set(
    (
      await pool.query<{ order_id: string }>(
        "SELECT r.order_id FROM reservations r JOIN orders o ON o.id = r.order_id WHERE r.status = 'reserved' AND o.status IN ('failed', 'cancelled')",
      )
    ).rows.map((r) => r.order_id),
  );
  const shipped = new Set(
    (
      await pool.query<{ order_id: string }>("SELECT order_id FROM shipments WHERE status = 'created'")
    ).rows.map((r) => r.order_id),
  );

  const charged = new Set(payment.entries.filter((e) => e.kind === 'charge').map((e) => e.orderId ?? ''));
  const refunded = new Set(payment.entries.filter((e) => e.kind === 'refund').map((e) => e.orderId ?? ''));
  const notification = (m: DlqMessage) =>
    (m.payload as { template?: string } | null)?.template === 'shipping-notification';
  const deadOrders = new Set<string>([
    ...kafkaDead.map((m) => m.orderId ?? ''),
    ...emailDead.filter(notification).map((m) => m.orderId ?? ''),
  ]);

  const orders: OrderAccount = {
    placed: placed.length,
    completed: 0,
    compensated: 0,
    inDlq: 0,
    inFlight: 0,
    lost: 0,
    uncompensated: 0,
    byStatus: {},
    lostIds: [],
    uncompensatedIds: [],
  };
  for (const id of placed) {
    const st = status.get(id) ?? 'missing';
    orders.byStatus[st] = (orders.byStatus[st] ?? 0) + 1;
    if (st === 'notified') orders.completed++;
    else if (TERMINAL_FAILED.has(st)) {
      orders.compensated++;
      if ((charged.has(id) && !refunded.has(id)) || heldStock.has(id)) {
        orders.uncompensated++;
        if (orders.uncompensatedIds.length < SAMPLE) orders.uncompensatedIds.push(id);
      }
    } else if (deadOrders.has(id)) orders.inDlq++;
    else if (st !== 'missing' && (pending.has(id) || !settled)) orders.inFlight++;
    else {
      orders.lost++;
      if (orders.lostIds.length < SAMPLE) orders.lostIds.push(`${id} (${st})`);
    }
  }

  const duplicates: Duplicates = {
    charges: duplicatesBy(payment.entries, 'charge', (e) => e.orderId ?? e.key),
    refunds: duplicatesBy(payment.entries, 'refund', (e) => e.orderId ?? e.key),
    emails: duplicatesBy(email.entries, 'email', (e) => `${e.orderId ?? e.key}|${String(e.data.template)}`),
    webhooks: duplicatesBy(
      webhook.entries,
      'delivery',
      (e) => `${e.orderId ?? e.key}|${String(e.data.event)}`,
    ),
  };

  // Every paid order owes a confirmation e-mail and a partner webhook; every shipped one a notice.
  const placedSet = new Set(placed);
  const expected: string[] = [];
  for (const id of charged)
    if (placedSet.has(id)) expected.push(`${id}|email|order-confirmation`, `${id}|webhook|order.paid`);
  for (const id of shipped) if (placedSet.has(id)) expected.push(`${id}|email|shipping-notification`);
  const delivered = new Set<string>([
    ...email.entries
      .filter((e) => e.kind === 'email')
      .map((e) => `${e.orderId ?? ''}|email|${String(e.data.template)}`),
    ...webhook.entries
      .filter((e) => e.kind === 'delivery')
      .map((e) => `${e.orderId ?? ''}|webhook|${String(e.data.event)}`),
  ]);
  const deadTasks = new Set<string>([
    ...emailDead.map(
      (m) => `${m.orderId ?? ''}|email|${String((m.payload as { template?: string } | null)?.template)}`,
    ),
    ...webhookDead.map(
      (m) =>
        `${m.orderId ?? ''}|webhook|${String((m.payload as { payload?: { event?: string } } | null)?.payload?.event)}`,
    ),
  ]);
  const tasks: TaskAccount = {
    expected: expected.length,
    delivered: 0,
    inDlq: 0,
    inFlight: 0,
    lost: 0,
    lostIds: [],
  };
  for (const k of expected) {
    if (delivered.has(k)) tasks.delivered++;
    else if (deadTasks.has(k)) tasks.inDlq++;
    else if (!settled) tasks.inFlight++;
    else {
      tasks.lost++;
      if (tasks.lostIds.length < SAMPLE) tasks.lostIds.push(k);
    }
  }

  const poison = new Set(
    kafkaDead
      .filter((m) => m.errorClass === 'UndecodableRecord' || m.errorClass === 'SchemaInvalid')
      .map(
        (m) =>
          `${m.headers[KafkaDlqHeaders.consumerGroup]}|${m.headers[KafkaDlqHeaders.originalPartition]}|${m.headers[KafkaDlqHeaders.originalOffset]}`,
      ),
  );

  return {
    orders,
    duplicates,
    tasks,
    dlq: {
      kafka: kafkaDead.length,
      email: emailDead.length,
      webhook: webhookDead.length,
      analytics: analyticsDead.length,
    },
    poisonDeadLettered: poison.size,
    orderCompletionMs: {
      p50: percentileOf(completion, 50),
      p99: percentileOf(completion, 99),
      max: completion[completion.length - 1] ?? 0,
    },
  };
}

/**
 * Where a lost order stopped, in one line, from its trace: its records on the topic, each outbox
 * row (sent or not, which consumers' inboxes claimed it) and the drill's groups committed past it.
 * Tells a broker that lost an acknowledged write (sent, not on the topic) from a consumer that
 * committed past a record it never handled (on the topic, a group past it, not claimed).
 */
export function whereOrderStopped(t: TraceResult, groupPrefix: string): string {
  const kafka = t.entries
    .filter((e) => e.source === 'kafka')
    .map((e) => `${e.what}@${String(e.details?.offset)}`);
  const outbox = t.entries
    .filter((e) => e.source === 'database' && e.where === 'outbox')
    .map((e) => {
      const d = e.details as { type: string; sentAt: string | null; handledBy: string[] } | undefined;
      return `${d?.type ?? ''} ${d?.sentAt ? 'sent' : 'unsent'} [${d?.handledBy.join(',') ?? ''}]`;
    });
  const groups = t.groups
    .filter((g) => g.group.startsWith(groupPrefix))
    .map(
      (g) =>
        `${g.group.slice(groupPrefix.length)}@${String(g.committed)}${g.unseen.length ? ` (${g.unseen.length} unseen)` : ''}`,
    );
  const ledger = t.entries
    .filter((e) => e.source === 'provider')
    .map((e) => `${e.where} ${e.what.split(' ')[0] ?? ''}`);
  const dead = t.entries
    .filter((e) => e.source === 'kafka-dlq' || e.source === 'rabbitmq-dlq')
    .map((e) => e.what);
  return [
    `${t.orderId} (${t.status ?? 'no row'})`,
    `${t.topic}/${t.partition}: ${kafka.join(', ') || 'no records'}`,
    `outbox: ${outbox.join(', ') || 'none'}`,
    `groups: ${groups.join(', ') || 'none'}`,
    `ledger: ${ledger.join(', ') || 'none'}`,
    ...(dead.length ? [`dead letters: ${dead.join(', ')}`] : []),
    ...(t.unavailable.length ? [`unreadable: ${t.unavailable.map((u) => u.source).join(', ')}`] : []),
  ].join('; ');
}

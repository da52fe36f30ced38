import { partitionForKey } from '../adapters/kafka.js';
import { createPool } from '../adapters/postgres.js';
import { EventCodec } from '../events/codec.js';
import { usageError, errorMessage } from '../errors.js';
import type { OpsContext } from './context.js';
import { showDlq } from './dlq/index.js';
import { listQueues } from './queues.js';

/**
 * `orderbus trace ORDER_ID`: one timeline of an order across everything — its events on the
 * key's partition of order.events, the Kafka DLQ, RabbitMQ dead letters, the database (status,
 * timeline, outbox rows and the consumers whose inbox claimed each, provider ledgers), and each
 * consumer group's position relative to its events (which groups have not yet seen which event).
 */
export interface TraceEntry {
  at: string | null;
  source: 'kafka' | 'kafka-dlq' | 'rabbitmq-dlq' | 'database' | 'provider';
  where: string;
  what: string;
  details?: Record<string, unknown>;
}

export interface GroupPosition {
  group: string;
  committed: number | null;
  /** Events of this order at or after the committed offset (not yet seen). */
  unseen: { offset: number; type: string }[];
}

export interface TraceResult {
  orderId: string;
  topic: string;
  partition: number;
  status: string | null;
  entries: TraceEntry[];
  groups: GroupPosition[];
  /** Sources that could not be read (the rest of the trace is still shown). */
  unavailable: { source: string; error: string }[];
  scannedRecords: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SCAN_LIMIT = 2_000_000;

export async function traceOrder(ctx: OpsContext, orderId: string): Promise<TraceResult> {
  if (!UUID.test(orderId))
    throw usageError(
      'BAD_ORDER_ID',
      `'${orderId}' is not an order id (a UUID, as returned by POST /orders)`,
      'orderbus dlq show order.events.dlq (shows order ids of failed events)',
    );
  const topic = ctx.config.topics.orderEvents;
  const admin = await ctx.admin();
  const marks = await admin.fetchTopicOffsets(topic);
  const partition = partitionForKey(orderId, marks.length);
  const mark = marks.find((m) => m.partition === partition);
  const entries: TraceEntry[] = [];
  const unavailable: TraceResult['unavailable'] = [];
  const events: { offset: number; type: string }[] = [];
  const codec = EventCodec.fromConfig(ctx.config, topic);
  const keyBuf = Buffer.from(orderId);
  let scanned = 0;
  if (mark) {
    const high = Number(mark.high);
    const low = Math.max(Number(mark.low), high - SCAN_LIMIT);
    await ctx.reader().readRange(
      topic,
      partition,
      low,
      high,
      async (batch) => {
        scanned += batch.length;
        for (const r of batch) {
          if (!r.key || !r.key.equals(keyBuf)) continue;
          let type = r.headers['event-type'] ?? 'unknown';
          let details: Record<string, unknown> = { offset: r.offset, headers: r.headers };
          try {
            const e = await codec.decode(r.value);
            type = e.type;
            details = { ...details, eventId: e.eventId, source: e.source, data: e.data };
          } catch (e) {
            details.decodeError = errorMessage(e);
          }
          events.push({ offset: r.offset, type });
          entries.push({
            at: new Date(r.timestamp).toISOString(),
            source: 'kafka',
            where: `${topic}/${partition}@${r.offset}`,
            what: type,
            details,
          });
        }
      },
      { maxBytes: 8 * 1024 * 1024 },
    );
  }
  // Consumer groups' positions on that partition.
  const groups: GroupPosition[] = [];
  const { groups: all } = await admin.listGroups();
  const committed = await Promise.all(
    all.map(async (g) => ({
      group: g.groupId,
      offs: await admin.fetchOffsets({ groupId: g.groupId, topics: [topic] }),
    })),
  );
  for (const c of committed) {
    const p = c.offs[0]?.partitions.find((x) => x.partition === partition);
    const off = p && Number(p.offset) >= 0 ? Number(p.offset) : null;
    if (off === null) continue;
    groups.push({ group: c.group, committed: off, unseen: events.filter((e) => e.offset >= off) });
  }
  groups.sort((a, b) => a.group.localeCompare(b.group));
  // Dead letters.
  const dlqNames: string[] = [ctx.config.topics.orderEventsDlq];
  try {
    dlqNames.push(...(await listQueues(ctx)).filter((q) => q.role === 'dlq').map((q) => q.name));
  } catch (e) {
    unavailable.push({ source: 'rabbitmq', error: errorMessage(e) });
  }
  for (const name of dlqNames) {
    try {
      for (const m of await showDlq(ctx, name, { filter: `orderId=${orderId}`, limit: 100 })) {
        entries.push({
          at: m.lastFailureAt,
          source: m.kind === 'kafka' ? 'kafka-dlq' : 'rabbitmq-dlq',
          where: `${name} ${m.id}`,
          what: `dead letter: ${m.errorClass ?? 'unknown'}${m.statusCode !== null ? ` (${m.statusCode})` : ''}`,
          details: { errorMessage: m.errorMessage, attempts: m.attempts, destination: m.destination },
        });
      }
    } catch (e) {
      unavailable.push({ source: name, error: errorMessage(e) });
    }
  }
  // The database.
  let status: string | null = null;
  const pool = createPool(ctx.config, { max: 1 });
  try {
    const o = await pool.query<{ status: string; created_at: Date; updated_at: Date }>(
      'SELECT status, created_at, updated_at FROM orders WHERE id = $1',
      [orderId],
    );
    status = o.rows[0]?.status ?? null;
    if (o.rows[0])
      entries.push({
        at: o.rows[0].created_at.toISOString(),
        source: 'database',
        where: 'orders',
        what: 'order row created',
      });
    const t = await pool.query<{ type: string; source: string; occurred_at: Date; recorded_at: Date }>(
      'SELECT type, source, occurred_at, recorded_at FROM order_timeline WHERE order_id = $1 ORDER BY occurred_at',
      [orderId],
    );
    for (const r of t.rows)
      entries.push({
        at: r.recorded_at.toISOString(),
        source: 'database',
        where: 'order_timeline',
        what: `${r.type} applied (from ${r.source})`,
      });
    // The outbox (was each event published?) and which consumers' inboxes claimed it: where an
    // order stopped when its events are not all on the topic.
    const out = await pool.query<{
      event_id: string;
      type: string;
      created_at: Date;
      sent_at: Date | null;
      claimed: string[] | null;
    }>(
      `SELECT o.event_id, o.type, o.created_at, o.sent_at,
              (SELECT array_agg(i.consumer ORDER BY i.consumer) FROM inbox i WHERE i.event_id = o.event_id) AS claimed
       FROM outbox o WHERE o.order_id = $1 ORDER BY o.id`,
      [orderId],
    );
    for (const r of out.rows)
      entries.push({
        at: r.created_at.toISOString(),
        source: 'database',
        where: 'outbox',
        what: `${r.type} ${r.sent_at ? `sent ${r.sent_at.toISOString()}` : 'not sent yet'}; handled by ${r.claimed?.join(', ') || 'no consumer yet'}`,
        details: {
          type: r.type,
          eventId: r.event_id,
          sentAt: r.sent_at?.toISOString() ?? null,
          handledBy: r.claimed ?? [],
        },
      });
    const ledger = await pool.query<{ provider: string; kind: string; idempotency_key: string; at: Date }>(
      'SELECT provider, kind, idempotency_key, at FROM provider_ledger WHERE order_id = $1 ORDER BY at',
      [orderId],
    );
    for (const r of ledger.rows)
      entries.push({
        at: r.at.toISOString(),
        source: 'provider',
        where: r.provider,
        what: `${r.kind} (key ${r.idempotency_key})`,
      });
  } catch (e) {
    unavailable.push({ source: 'postgres', error: errorMessage(e) });
  } finally {
    await pool.end().catch(() => undefined);
  }
  entries.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  return { orderId, topic, partition, status, entries, groups, unavailable, scannedRecords: scanned };
}

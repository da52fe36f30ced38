import { partitionForKey } from '../adapters/kafka.js';
import { createPool, type Pool } from '../adapters/postgres.js';
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

/** One timeline entry; `details` only where the source has them (the JSON shape leaves it out otherwise). */
const entry = (
  source: TraceEntry['source'],
  where: string,
  at: Date | string | null,
  what: string,
  details?: Record<string, unknown>,
): TraceEntry => ({
  at: at instanceof Date ? at.toISOString() : at,
  source,
  where,
  what,
  ...(details ? { details } : {}),
});

/** A source this target does not have (config.components): skipped, with the key that adds it. */
const notInTarget = (source: string, key: string): TraceResult['unavailable'][number] => ({
  source,
  error: `skipped: not part of this target (set ${key} or components to include it)`,
});

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
          entries.push(
            entry('kafka', `${topic}/${partition}@${r.offset}`, new Date(r.timestamp), type, details),
          );
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
  const has = (c: 'rabbitmq' | 'postgres') => ctx.config.components.includes(c);
  if (!has('rabbitmq')) unavailable.push(notInTarget('rabbitmq', 'rabbitmq.url'));
  else
    try {
      dlqNames.push(...(await listQueues(ctx)).filter((q) => q.role === 'dlq').map((q) => q.name));
    } catch (e) {
      unavailable.push({ source: 'rabbitmq', error: errorMessage(e) });
    }
  for (const name of dlqNames) {
    try {
      for (const m of await showDlq(ctx, name, { filter: `orderId=${orderId}`, limit: 100 })) {
        entries.push(
          entry(
            m.kind === 'kafka' ? 'kafka-dlq' : 'rabbitmq-dlq',
            `${name} ${m.id}`,
            m.lastFailureAt,
            `dead letter: ${m.errorClass ?? 'unknown'}${m.statusCode !== null ? ` (${m.statusCode})` : ''}`,
            { errorMessage: m.errorMessage, attempts: m.attempts, destination: m.destination },
          ),
        );
      }
    } catch (e) {
      unavailable.push({ source: name, error: errorMessage(e) });
    }
  }
  // The database, when this target has one (an operations-only target traces Kafka and RabbitMQ).
  let status: string | null = null;
  if (!has('postgres')) unavailable.push(notInTarget('postgres', 'database.url'));
  else {
    const pool = createPool(ctx.config, { max: 1 });
    status = await databaseTimeline(pool, orderId, entries, unavailable);
    await pool.end().catch(() => undefined);
  }
  entries.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  return { orderId, topic, partition, status, entries, groups, unavailable, scannedRecords: scanned };
}

/**
 * The database's part of the trace, appended to `entries` query by query (a later query failing
 * keeps what the earlier ones found): the order row, its timeline, the outbox (was each event
 * published?) with the consumers whose inboxes claimed it — where an order stopped when its
 * events are not all on the topic — and the providers' ledgers. Returns the order's status (null
 * without an order row, or when the database could not be read: `unavailable` then says why).
 */
async function databaseTimeline(
  pool: Pool,
  orderId: string,
  entries: TraceEntry[],
  unavailable: TraceResult['unavailable'],
): Promise<string | null> {
  const rows = async <R extends Record<string, unknown>>(sql: string): Promise<R[]> =>
    (await pool.query<R>(sql, [orderId])).rows;
  let status: string | null = null;
  try {
    const [order] = await rows<{ status: string; created_at: Date }>(
      'SELECT status, created_at, updated_at FROM orders WHERE id = $1',
    );
    status = order?.status ?? null;
    if (order) entries.push(entry('database', 'orders', order.created_at, 'order row created'));
    const timeline = await rows<{ type: string; source: string; recorded_at: Date }>(
      'SELECT type, source, occurred_at, recorded_at FROM order_timeline WHERE order_id = $1 ORDER BY occurred_at',
    );
    for (const r of timeline)
      entries.push(
        entry('database', 'order_timeline', r.recorded_at, `${r.type} applied (from ${r.source})`),
      );
    const outbox = await rows<{
      event_id: string;
      type: string;
      created_at: Date;
      sent_at: Date | null;
      claimed: string[] | null;
    }>(
      `SELECT o.event_id, o.type, o.created_at, o.sent_at,
              (SELECT array_agg(i.consumer ORDER BY i.consumer) FROM inbox i WHERE i.event_id = o.event_id) AS claimed
       FROM outbox o WHERE o.order_id = $1 ORDER BY o.id`,
    );
    for (const r of outbox)
      entries.push(
        entry(
          'database',
          'outbox',
          r.created_at,
          `${r.type} ${r.sent_at ? `sent ${r.sent_at.toISOString()}` : 'not sent yet'}; handled by ${r.claimed?.join(', ') || 'no consumer yet'}`,
          {
            type: r.type,
            eventId: r.event_id,
            sentAt: r.sent_at?.toISOString() ?? null,
            handledBy: r.claimed ?? [],
          },
        ),
      );
    const ledger = await rows<{ provider: string; kind: string; idempotency_key: string; at: Date }>(
      'SELECT provider, kind, idempotency_key, at FROM provider_ledger WHERE order_id = $1 ORDER BY at',
    );
    for (const r of ledger)
      entries.push(entry('provider', r.provider, r.at, `${r.kind} (key ${r.idempotency_key})`));
  } catch (e) {
    unavailable.push({ source: 'postgres', error: errorMessage(e) });
  }
  return status;
}

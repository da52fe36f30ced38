import type { Admin } from 'kafkajs';
import {
  connectAdmin,
  createTopicsAndWait,
  kafkaClient,
  partitionForKey,
} from '../../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../../src/adapters/kafka-fetch.js';
import { BatchProducer, type OutRecord } from '../../../src/adapters/kafka-produce.js';
import { createPool } from '../../../src/adapters/postgres.js';
import type { OrderbusConfig } from '../../../src/config.js';
import { migrate } from '../../../src/db/migrate.js';
import { EventCodec, eventHeaders, nextEvent } from '../../../src/events/codec.js';
import { KafkaDlqHeaders, type EventEnvelope } from '../../../src/events/types.js';

/**
 * The big topics of the scale benchmarks, built once per cluster and kept (a second run finds
 * them by their record count): a Kafka DLQ of 1,000,000 dead letters in the pipeline's own
 * format, and an order.events of 5,000,000 records with one traced order and its row in
 * PostgreSQL. Both are produced with BatchProducer (record batches encoded here, one partition's
 * batches one after the other, the partitions at once).
 */

export type Log = (line: string) => void;

export const BIG_DLQ_RECORDS = 1_000_000;
export const BIG_ORDER_EVENTS_RECORDS = 5_000_000;

/** Partitions of the DLQ: as `stack up` creates order.events.dlq. */
const DLQ_PARTITIONS = 3;
/** Records per produced batch: under the broker's 1 MB message.max.bytes at ~1 KB a dead letter. */
const DLQ_BATCH = 500;
/** The dead letters' failure times: spread over the 6 hours before the build. */
const DLQ_SPAN_MS = 6 * 3_600_000;

const dlqTopic = (records: number) =>
  records === BIG_DLQ_RECORDS ? 'bench-scale.order.events.dlq' : `bench-scale-${records}.order.events.dlq`;

/** Sum of the partitions' record counts, or null when the topic is not there. */
async function recordCount(admin: Admin, topic: string): Promise<number | null> {
  if (!(await admin.listTopics()).includes(topic)) return null;
  const marks = await admin.fetchTopicOffsets(topic);
  return marks.reduce((s, m) => s + Number(m.high) - Number(m.low), 0);
}

/** Per partition, the records a topic of `n` over `partitions` holds. */
const share = (n: number, partitions: number, p: number) =>
  Math.floor(n / partitions) + (p < n % partitions ? 1 : 0);

/** Fills each partition with `recordAt(p, i)`, `batch` records a request, `parallel` partitions at once. */
async function fill(
  config: OrderbusConfig,
  what: { topic: string; partitions: number; records: number; batch: number; parallel: number },
  recordAt: (p: number, i: number) => OutRecord,
  log: Log,
): Promise<void> {
  const producer = new BatchProducer(kafkaClient(config, `bench-build-${what.topic}`));
  const t0 = Date.now();
  let done = 0;
  let reported = 0;
  const one = async (p: number) => {
    const n = share(what.records, what.partitions, p);
    for (let from = 0; from < n; from += what.batch) {
      const records: OutRecord[] = [];
      for (let i = from; i < Math.min(n, from + what.batch); i++) records.push(recordAt(p, i));
      await producer.send(what.topic, p, records);
      done += records.length;
      if (done - reported >= 250_000) {
        reported = done;
        log(`${what.topic}: ${done} of ${what.records} records (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }
  };
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: what.parallel }, async () => {
        while (next < what.partitions) await one(next++);
      }),
    );
  } finally {
    await producer.close();
  }
  log(`${what.topic}: built ${what.records} records in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

// ------------------------------------------------------------------ the DLQ

/** The consumer groups that dead-letter, their failure classes and messages, as the pipeline writes them. */
const SERVICES = ['payment', 'inventory', 'shipping', 'saga', 'loyalty', 'fraud-audit', 'warehouse'];
const FAILURES: readonly (readonly [string, string, number])[] = [
  ['TransientExhausted', 'connect ETIMEDOUT 127.0.0.1:8091 (payment gateway)', 3],
  ['OrderStateError', 'order is shipped; cannot apply payment.captured', 1],
  ['ShippingApiError', 'shipping API answered 422: address rejected', 3],
  ['SchemaInvalid', 'payload does not match its schema: must have required property amountCents', 1],
  ['UnknownEventType', 'no schema for event type order.archived', 1],
  ['UndecodableRecord', 'not in the registry wire format (magic byte 0 + schema id)', 1],
];

/**
 * The registry's wire format of an event (magic byte 0, the schema id, the JSON), written here
 * for speed with the id the registry gave; checked once against EventCodec.encode.
 */
async function wireEncoder(config: OrderbusConfig, topic: string) {
  const codec = EventCodec.fromConfig(config, topic);
  const prefixes = new Map<string, Buffer>();
  const encode = (e: EventEnvelope): Buffer => {
    const prefix = prefixes.get(e.type);
    if (!prefix) throw new Error(`no schema id for ${e.type}`);
    return Buffer.concat([prefix, Buffer.from(JSON.stringify(e))]);
  };
  const ids = { eventId: 'e', orderId: 'o', correlationId: 'c' };
  for (const e of [
    nextEvent(ids, 'payment.captured', 'payment', { chargeId: 'ch', amountCents: 1 }),
    nextEvent(ids, 'payment.failed', 'payment', { reason: 'card declined' }),
    nextEvent(ids, 'payment.refunded', 'payment', { refundId: 'rf', amountCents: 1 }),
  ]) {
    const real = await codec.encode(e);
    prefixes.set(e.type, real.subarray(0, 5));
    if (!encode(e).equals(real)) throw new Error(`the registry encodes ${e.type} otherwise than the bench`);
  }
  return encode;
}

const hex12 = (n: number) => n.toString(16).padStart(12, '0');

/**
 * A Kafka DLQ topic of `records` dead letters (3 partitions) as the pipeline's consumers write
 * them (event-consumer.ts deadLetter): the failed record's key, value and headers, then the
 * failure context headers. Failure classes, services and original offsets vary; the failure times
 * (record timestamp = dlq-last-failure-at) cover the 6 hours before the build, in order per
 * partition. Reused when a topic of that name holds exactly `records`.
 */
export async function ensureBigDlq(
  config: OrderbusConfig,
  log: Log,
  records = BIG_DLQ_RECORDS,
): Promise<{ topic: string; records: number }> {
  const topic = dlqTopic(records);
  const admin = await connectAdmin(config);
  try {
    if ((await recordCount(admin, topic)) === records) {
      log(`reusing ${topic} (${records} dead letters)`);
      return { topic, records };
    }
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await createTopicsAndWait(admin, [
      {
        topic,
        numPartitions: DLQ_PARTITIONS,
        replicationFactor: Math.min(
          config.topics.replicationFactor,
          (await admin.describeCluster()).brokers.length,
        ),
        configEntries: [{ name: 'retention.ms', value: '-1' }],
      },
    ]);
  } finally {
    await admin.disconnect();
  }
  const origin = config.topics.orderEvents;
  const encode = await wireEncoder(config, origin);
  const base = Date.now() - DLQ_SPAN_MS - 600_000;
  const garbage = Buffer.from('{"orderId":"truncated');
  const recordAt = (p: number, i: number): OutRecord => {
    const n = i * DLQ_PARTITIONS + p; // the letter's number over the whole topic
    const at = base + Math.floor((i * DLQ_SPAN_MS) / share(records, DLQ_PARTITIONS, p));
    const [errorClass, message, attempts] = FAILURES[(n * 7 + (n >> 10)) % FAILURES.length] ?? FAILURES[0]!;
    const service = SERVICES[(n * 3 + (n >> 12)) % SERVICES.length] ?? 'payment';
    const orderId = `dead0000-0000-4000-8000-${hex12(n)}`;
    const cause = { eventId: `e0000000-0000-4000-8000-${hex12(n)}`, orderId, correlationId: orderId };
    const e =
      n % 3 === 0
        ? nextEvent(cause, 'payment.captured', 'payment', {
            chargeId: `ch-${n}`,
            amountCents: 1000 + (n % 9000),
          })
        : n % 3 === 1
          ? nextEvent(cause, 'payment.failed', 'payment', { reason: 'card declined' })
          : nextEvent(cause, 'payment.refunded', 'payment', { refundId: `rf-${n}`, amountCents: 1200 });
    e.occurredAt = new Date(at - 60_000).toISOString();
    const undecodable = errorClass === 'UndecodableRecord';
    const originalPartition = n % 12;
    const headers: [string, string][] = [
      ...(undecodable ? [] : Object.entries(eventHeaders(e))),
      [KafkaDlqHeaders.originalTopic, origin],
      [KafkaDlqHeaders.originalPartition, String(originalPartition)],
      [KafkaDlqHeaders.originalOffset, String(Math.floor(n / 12) * 40 + (n % 40))],
      [KafkaDlqHeaders.originalTimestamp, String(at - 60_000)],
      [KafkaDlqHeaders.consumerGroup, `${config.kafka.groupPrefix}${service}`],
      [KafkaDlqHeaders.errorClass, errorClass],
      [KafkaDlqHeaders.errorMessage, message],
      [KafkaDlqHeaders.attempts, String(attempts)],
      [KafkaDlqHeaders.firstFailureAt, new Date(at - (attempts - 1) * 2_000).toISOString()],
      [KafkaDlqHeaders.lastFailureAt, new Date(at).toISOString()],
    ];
    return { key: Buffer.from(orderId), value: undecodable ? garbage : encode(e), timestamp: at, headers };
  };
  await fill(
    config,
    { topic, partitions: DLQ_PARTITIONS, records, batch: DLQ_BATCH, parallel: DLQ_PARTITIONS },
    recordAt,
    log,
  );
  return { topic, records };
}

// ------------------------------------------------------------------ order.events with a traced order

/** Partitions of the order events topic. */
const ORDER_PARTITIONS = 12;
/** The records' timestamps: 20 hours, ending an hour before the build. */
const ORDER_SPAN_MS = 20 * 3_600_000;
/** Where the traced order's events sit, from the middle of its partition on. */
export const TRACED_EVENT_OFFSETS = [0, 1, 10, 100];

/** An order.events-shaped topic with one traced order, and how to point orderbus at it. */
export interface TracedTopic {
  topic: string;
  /** Its (empty) DLQ topic, so that trace does not search another topic's dead letters. */
  dlq: string;
  /** The database schema holding the order's row. */
  schema: string;
  orderId: string;
  /** The order's events on the topic. */
  orderEvents: number;
  partitions: number;
  /** ORDERBUS_* settings that point orderbus at it (topic, DLQ, schema). */
  env: Record<string, string>;
  /** `config` pointed at it. */
  config: OrderbusConfig;
}

function tracedTopic(config: OrderbusConfig, records: number): TracedTopic {
  const topic = `bench-trace.order.events.${records}`;
  const dlq = `${topic}.dlq`;
  const schema = `bench_trace_${records}`;
  return {
    topic,
    dlq,
    schema,
    // Fixed per size, so a kept topic is found again.
    orderId: `7ace0000-0000-4000-8000-${hex12(records)}`,
    orderEvents: TRACED_EVENT_OFFSETS.length,
    partitions: ORDER_PARTITIONS,
    env: {
      ORDERBUS_TOPIC_ORDER_EVENTS: topic,
      ORDERBUS_TOPIC_ORDER_EVENTS_DLQ: dlq,
      ORDERBUS_DATABASE_SCHEMA: schema,
    },
    config: {
      ...config,
      topics: { ...config.topics, orderEvents: topic, orderEventsDlq: dlq },
      database: { ...config.database, schema },
    },
  };
}

/** The offset of the traced order's first event on its partition. */
const orderStart = (t: TracedTopic, records: number) =>
  Math.floor(share(records, ORDER_PARTITIONS, partitionForKey(t.orderId, ORDER_PARTITIONS)) / 2);

async function buildOrderEvents(t: TracedTopic, records: number, log: Log): Promise<void> {
  const admin = await connectAdmin(t.config);
  try {
    await admin.deleteTopics({ topics: [t.topic, t.dlq] }).catch(() => undefined);
    const rf = Math.min(t.config.topics.replicationFactor, (await admin.describeCluster()).brokers.length);
    await createTopicsAndWait(admin, [
      {
        topic: t.topic,
        numPartitions: ORDER_PARTITIONS,
        replicationFactor: rf,
        configEntries: [{ name: 'retention.ms', value: '-1' }],
      },
      { topic: t.dlq, numPartitions: 1, replicationFactor: rf },
    ]);
  } finally {
    await admin.disconnect();
  }
  const base = Date.now() - ORDER_SPAN_MS - 3_600_000;
  const codec = EventCodec.fromConfig(t.config, t.topic);
  const order = { eventId: t.orderId, orderId: t.orderId, correlationId: t.orderId };
  const orderPartition = partitionForKey(t.orderId, ORDER_PARTITIONS);
  const mid = orderStart(t, records);
  const stampOf = (p: number, i: number) =>
    base + Math.floor((i * ORDER_SPAN_MS) / share(records, ORDER_PARTITIONS, p));
  const mine = new Map<number, OutRecord>();
  for (const [k, d] of TRACED_EVENT_OFFSETS.entries()) {
    const e =
      k % 2 === 1
        ? nextEvent(order, 'payment.refunded', 'bench', { refundId: `rf-${k}`, amountCents: 1200 })
        : nextEvent(order, 'payment.captured', 'bench', { chargeId: `ch-${k}`, amountCents: 1200 });
    mine.set(mid + d, {
      key: Buffer.from(t.orderId),
      value: await codec.encode(e),
      timestamp: stampOf(orderPartition, mid + d),
      headers: Object.entries(eventHeaders(e)),
    });
  }
  const keys = Array.from({ length: 4096 }, (_, i) => Buffer.from(`0b6c1c52-8f0e-4f57-9a47-${hex12(i)}`));
  const value = Buffer.alloc(200, 'v');
  const headers = [['event-type', 'order.placed']] as const;
  await fill(
    t.config,
    { topic: t.topic, partitions: ORDER_PARTITIONS, records, batch: 3000, parallel: 4 },
    (p, i) =>
      (p === orderPartition ? mine.get(i) : undefined) ?? {
        key: keys[i % keys.length] ?? null,
        value,
        timestamp: stampOf(p, i),
        headers,
      },
    log,
  );
}

/**
 * The order's row (and two outbox rows) in the schema, at the times its first and last events
 * carry on the topic: read from the topic, so the row matches whichever cluster's copy is traced.
 */
async function writeOrderRow(t: TracedTopic, records: number): Promise<void> {
  const reader = new KafkaLogReader(kafkaClient(t.config, 'bench-trace-row'));
  const partition = partitionForKey(t.orderId, ORDER_PARTITIONS);
  const mid = orderStart(t, records);
  const stamp = async (offset: number): Promise<Date> => {
    const [r] = await reader.readAll(t.topic, partition, offset, offset + 1);
    if (!r || r.key?.toString() !== t.orderId)
      throw new Error(`${t.topic}/${partition}@${offset} is not the traced order's event: rebuild the topic`);
    return new Date(r.timestamp);
  };
  let placed: Date;
  let last: Date;
  try {
    placed = await stamp(mid);
    last = await stamp(mid + (TRACED_EVENT_OFFSETS.at(-1) ?? 0));
  } finally {
    await reader.close();
  }
  const admPool = createPool(t.config, { max: 1 });
  try {
    await migrate(admPool, t.schema);
  } finally {
    await admPool.end();
  }
  const pool = createPool(t.config, { max: 1 });
  try {
    await pool.query('DELETE FROM outbox WHERE order_id = $1', [t.orderId]);
    await pool.query('DELETE FROM orders WHERE id = $1', [t.orderId]);
    await pool.query(
      `INSERT INTO orders (id, customer_id, email, status, total_cents, items, shipping_address, payment_method, correlation_id, created_at, updated_at)
       VALUES ($1, 'bench', 'bench@example.com', 'refunded', 1200, '[]', '{}', '{}', $1, $2, $3)`,
      [t.orderId, placed, last],
    );
    await pool.query(
      `INSERT INTO outbox (shard, event_id, order_id, type, envelope, created_at, sent_at)
       VALUES (0, gen_random_uuid(), $1, 'payment.captured', '{}', $2, $2), (0, gen_random_uuid(), $1, 'payment.refunded', '{}', $3, $3)`,
      [t.orderId, placed, last],
    );
  } finally {
    await pool.end();
  }
}

/**
 * An order.events-shaped topic of `records` (12 partitions, 200-byte values, 20 h of record
 * timestamps) with one order's four events in the middle of its partition, and the order's row in
 * a database schema of its own; the topic is kept (rebuilt when its count differs), the row is
 * written again from the topic's timestamps each time.
 */
export async function ensureOrderEvents(
  config: OrderbusConfig,
  records: number,
  log: Log,
): Promise<TracedTopic> {
  const t = tracedTopic(config, records);
  const admin = await connectAdmin(t.config);
  let count: number | null;
  try {
    count = await recordCount(admin, t.topic);
  } finally {
    await admin.disconnect();
  }
  if (count === records) log(`reusing ${t.topic} (${records} records)`);
  else await buildOrderEvents(t, records, log);
  await writeOrderRow(t, records);
  return t;
}

/** The 5,000,000-record order.events of the scale benchmarks, with its traced order. */
export function ensureBigOrderEvents(config: OrderbusConfig, log: Log): Promise<TracedTopic> {
  return ensureOrderEvents(config, BIG_ORDER_EVENTS_RECORDS, log);
}

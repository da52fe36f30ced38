import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsAndWait, kafkaClient, partitionForKey } from '../../src/adapters/kafka.js';
import { BatchProducer, type OutRecord } from '../../src/adapters/kafka-produce.js';
import type { Pool } from '../../src/adapters/postgres.js';
import { loadConfig } from '../../src/config.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import type { EventEnvelope } from '../../src/events/types.js';
import type { TraceResult } from '../../src/ops/trace.js';
import { runCli } from '../support/cli.js';
import { orderbusDlqHeaders, sendLetters } from '../support/kafka-dead-letters.js';
import { testDatabase } from '../support/database.js';
import { testNamespace } from '../support/namespace.js';

/**
 * trace seeks the order's partition by record timestamp instead of reading it from the start:
 * 200,000 records on the key's partition, one every 0.5 s from 30 h ago, the order's three
 * events in the middle (about 16 h ago). With the order's row in the database it reads the
 * minutes around the order's times; without a database, the last 24 h or what --since says.
 */
const N = 200_000;
const STEP_MS = 500;
const AT = [100_000, 100_001, 100_050];
const config = loadConfig();
const ns = testNamespace('trace-window');
const topic = `${ns}.events`;
const orderId = randomUUID();
const partition = partitionForKey(orderId, 3);
const base = Date.now() - 30 * 3_600_000;
const stamp = (i: number) => base + i * STEP_MS;
let kafka: Kafka;
let codec: EventCodec;
let redriven: EventEnvelope;
let admin: Admin;
let db: { pool: Pool; drop: () => Promise<void>; config: { database: { schema: string } } };

const env = {
  ORDERBUS_TOPIC_ORDER_EVENTS: topic,
  ORDERBUS_TOPIC_ORDER_EVENTS_DLQ: `${topic}.dlq`,
  ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
};

async function trace(args: string[], extra: Record<string, string>, code = 0) {
  const r = await runCli(['trace', orderId, ...args, '--json'], { env: { ...env, ...extra } });
  expect(r.code, r.stderr).toBe(code);
  return code === 0 ? (JSON.parse(r.stdout) as TraceResult) : r;
}

const kafkaEvents = (t: TraceResult) => t.entries.filter((e) => e.source === 'kafka');

beforeAll(async () => {
  kafka = kafkaClient(config, `${ns}-client`);
  admin = kafka.admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    {
      topic,
      numPartitions: 3,
      replicationFactor: config.topics.replicationFactor,
      // The records are stamped up to 30 h back: keep them whatever the broker's default.
      configEntries: [{ name: 'retention.ms', value: '-1' }],
    },
    { topic: `${topic}.dlq`, numPartitions: 1, replicationFactor: config.topics.replicationFactor },
  ]);
  codec = EventCodec.fromConfig({ ...config, topics: { ...config.topics, orderEvents: topic } }, topic);
  const order = { eventId: randomUUID(), orderId, correlationId: randomUUID() };
  const events = [
    nextEvent(order, 'payment.captured', 'test', { chargeId: 'ch-1', amountCents: 1200 }),
    nextEvent(order, 'payment.refunded', 'test', { refundId: 'rf-1', amountCents: 1200 }),
    nextEvent(order, 'payment.captured', 'test', { chargeId: 'ch-2', amountCents: 1200 }),
  ];
  redriven = events[0] as EventEnvelope;
  const mine = new Map<number, OutRecord>();
  for (const [k, i] of AT.entries()) {
    const e = events[k];
    if (!e) continue;
    mine.set(i, {
      key: Buffer.from(orderId),
      value: await codec.encode(e),
      timestamp: stamp(i),
      headers: Object.entries(eventHeaders(e)),
    });
  }
  const filler = Buffer.alloc(40, 'x');
  const producer = new BatchProducer(kafka);
  for (let from = 0; from < N; from += 5000) {
    const batch: OutRecord[] = [];
    for (let i = from; i < Math.min(N, from + 5000); i++)
      batch.push(
        mine.get(i) ?? {
          key: Buffer.from(`other-${i % 997}`),
          value: filler,
          timestamp: stamp(i),
          headers: [],
        },
      );
    await producer.send(topic, partition, batch);
  }
  await producer.close();
  db = await testDatabase(ns.replace(/[^a-zA-Z0-9_]/g, '_'));
  const placed = new Date(stamp(AT[0] ?? 0));
  const lastSent = new Date(stamp(AT[2] ?? 0));
  await db.pool.query(
    `INSERT INTO orders (id, customer_id, email, status, total_cents, items, shipping_address, payment_method, correlation_id, created_at, updated_at)
     VALUES ($1, 'c1', 'c1@example.com', 'confirmed', 1200, '[]', '{}', '{}', $2, $3, $4)`,
    [orderId, order.correlationId, placed, lastSent],
  );
  await db.pool.query(
    `INSERT INTO outbox (shard, event_id, order_id, type, envelope, created_at, sent_at)
     VALUES (0, $1, $2, 'order.placed', '{}', $3, $3), (0, $4, $2, 'order.confirmed', '{}', $5, $5)`,
    [randomUUID(), orderId, placed, randomUUID(), lastSent],
  );
}, 300_000);

afterAll(async () => {
  await admin?.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

describe('orderbus trace reads the window around the order, not the whole partition', () => {
  it("seeks to the order's placement time from its row and stops after its last event", async () => {
    const t = (await trace([], { ORDERBUS_DATABASE_SCHEMA: db.config.database.schema })) as TraceResult;
    expect(t.partition).toBe(partition);
    expect(t.status).toBe('confirmed');
    expect(kafkaEvents(t).map((e) => e.where)).toEqual(AT.map((i) => `${topic}/${partition}@${i}`));
    expect(kafkaEvents(t).map((e) => e.what)).toEqual([
      'payment.captured',
      'payment.refunded',
      'payment.captured',
    ]);
    const w = t.scanned;
    expect(w?.basis).toBe('order');
    expect(w?.partitionHigh).toBe(N);
    // 5 minutes either side of the order's times: 600 records of 0.5 s each side.
    expect(w?.fromOffset).toBe((AT[0] ?? 0) - 600);
    expect(w?.untilOffset).toBe((AT[2] ?? 0) + 600);
    expect(t.scannedRecords).toBe(w?.records);
    expect(t.scannedRecords).toBeLessThan(N / 100);
    expect(w?.widen).toMatch(new RegExp(`^orderbus trace ${orderId} --since \\S+Z$`));
  }, 120_000);

  it('without a database reads the last 24 h, and --since moves the start', async () => {
    const opsOnly = { ORDERBUS_COMPONENTS: 'kafka,registry' };
    const day = (await trace([], opsOnly)) as TraceResult;
    expect(day.scanned?.basis).toBe('default');
    expect(day.scanned?.untilOffset).toBe(N);
    // 30 h of records, 24 h read (give or take the seconds this test has run).
    const skipped = 6 * 7200;
    expect(day.scanned?.fromOffset).toBeGreaterThanOrEqual(skipped);
    expect(day.scanned?.fromOffset).toBeLessThan(skipped + 2400);
    expect(kafkaEvents(day)).toHaveLength(3);
    expect(day.scanned?.widen).toContain('--since');

    const from = new Date(stamp(99_000)).toISOString();
    const since = (await trace(['--since', from], opsOnly)) as TraceResult;
    expect(since.scanned).toMatchObject({ basis: 'since', fromOffset: 99_000, untilOffset: N });
    expect(since.scannedRecords).toBe(N - 99_000);
    expect(kafkaEvents(since)).toHaveLength(3);

    // The last record is about 2.2 h old: nothing in the last hour.
    const hour = (await trace(['--since', '1h'], opsOnly)) as TraceResult;
    expect(hour.scannedRecords).toBe(0);
    expect(kafkaEvents(hour)).toHaveLength(0);
  }, 120_000);

  it('a --since that is no time or duration exits 2 naming a trace command that works', async () => {
    const r = (await trace(['--since', 'yesterday'], { ORDERBUS_COMPONENTS: 'kafka,registry' }, 2)) as {
      stderr: string;
    };
    expect(r.stderr).toContain('error[BAD_DATETIME]');
    expect(r.stderr).toContain(`orderbus trace ${orderId} --since 2h`);
  }, 60_000);

  // Last: it appends to the partition.
  it('with a dead letter reads on to the end of the partition, where a redrive published it again', async () => {
    const value = await codec.encode(redriven);
    await sendLetters(kafka, `${topic}.dlq`, [
      { key: orderId, value, headers: orderbusDlqHeaders(topic, 'PaymentDeclined') },
    ]);
    const producer = new BatchProducer(kafka);
    await producer.send(topic, partition, [
      {
        key: Buffer.from(orderId),
        value,
        timestamp: Date.now(),
        headers: Object.entries(eventHeaders(redriven)),
      },
    ]);
    await producer.close();
    const t = (await trace([], { ORDERBUS_DATABASE_SCHEMA: db.config.database.schema })) as TraceResult;
    expect(t.entries.filter((e) => e.source === 'kafka-dlq')).toHaveLength(1);
    expect(kafkaEvents(t).map((e) => e.where)).toEqual([...AT, N].map((i) => `${topic}/${partition}@${i}`));
    expect(t.scanned).toMatchObject({
      basis: 'order',
      untilTime: null,
      fromOffset: (AT[0] ?? 0) - 600,
      untilOffset: N + 1,
    });
  }, 120_000);
});

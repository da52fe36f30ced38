import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { BatchProducer, type OutRecord } from '../../src/adapters/kafka-produce.js';
import type { Pool } from '../../src/adapters/postgres.js';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import { withOps } from '../../src/ops/context.js';
import { traceOrder } from '../../src/ops/trace.js';
import { testDatabase } from '../support/database.js';
import { orderbusDlqHeaders, sendLetters } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';

/**
 * With a dead letter of the order, trace reads its partition past the window, to the end (a
 * redrive may have published the event again). It reads on as soon as a DLQ search has found a
 * letter, while the other searches go on: a deep RabbitMQ DLQ is read for seconds after the
 * letter that decides it. Here the Kafka DLQ's search is held after it found the letter until the
 * rest of the partition is being read, or 5 s; the partition, the letter and the database are
 * real.
 */
const N = 2_000;
const STEP_MS = 500;
const AT = 1_000;
const HOLD_MS = 5_000;
const base = loadConfig();
const ns = testNamespace('trace-rest');
const topic = `${ns}.events`;
const orderId = randomUUID();
const start = Date.now() - 30 * 3_600_000;
const stamp = (i: number) => start + i * STEP_MS;
let kafka: Kafka;
let admin: Admin;
let db: { pool: Pool; drop: () => Promise<void>; config: OrderbusConfig };

/** Reads of the order's topic, in call order, and when the held search let go. */
const reads: { from: number; until: number; at: number }[] = [];
let searchReleasedAt: number | null = null;

vi.mock('../../src/ops/dlq/browse.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/ops/dlq/browse.js')>();
  return {
    ...real,
    browseDlq: async (...args: Parameters<typeof real.browseDlq>) => {
      const r = await real.browseDlq(...args);
      if (args[1] === `${topic}.dlq` && r.messages.length > 0) {
        const until = Date.now() + HOLD_MS;
        while (Date.now() < until && !reads.some((x) => x.from > AT))
          await new Promise((w) => setTimeout(w, 20));
        searchReleasedAt = performance.now();
      }
      return r;
    },
  };
});

beforeAll(async () => {
  kafka = kafkaClient(base, `${ns}-client`);
  admin = kafka.admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    {
      topic,
      numPartitions: 1,
      replicationFactor: base.topics.replicationFactor,
      configEntries: [{ name: 'retention.ms', value: '-1' }],
    },
    { topic: `${topic}.dlq`, numPartitions: 1, replicationFactor: base.topics.replicationFactor },
  ]);
  db = await testDatabase(ns, {
    ...base,
    topics: { ...base.topics, orderEvents: topic, orderEventsDlq: `${topic}.dlq` },
    components: ['kafka', 'registry', 'postgres'],
  });
  const codec = EventCodec.fromConfig(db.config, topic);
  const order = { eventId: randomUUID(), orderId, correlationId: randomUUID() };
  const captured = nextEvent(order, 'payment.captured', 'test', { chargeId: 'ch-1', amountCents: 1200 });
  const value = await codec.encode(captured);
  const mine = {
    key: Buffer.from(orderId),
    value,
    headers: Object.entries(eventHeaders(captured)),
  };
  const records: OutRecord[] = [];
  for (let i = 0; i < N; i++)
    records.push(
      i === AT
        ? { ...mine, timestamp: stamp(i) }
        : { key: Buffer.from(`other-${i % 97}`), value: Buffer.from('x'), timestamp: stamp(i), headers: [] },
    );
  // The redrive's copy, at the partition's end: hours after the window around the order.
  records.push({ ...mine, timestamp: Date.now() });
  const producer = new BatchProducer(kafka);
  await producer.send(topic, 0, records);
  await producer.close();
  await sendLetters(kafka, `${topic}.dlq`, [
    { key: orderId, value, headers: orderbusDlqHeaders(topic, 'PaymentDeclined') },
  ]);
  const placed = new Date(stamp(AT));
  await db.pool.query(
    `INSERT INTO orders (id, customer_id, email, status, total_cents, items, shipping_address, payment_method, correlation_id, created_at, updated_at)
     VALUES ($1, 'c1', 'c1@example.com', 'confirmed', 1200, '[]', '{}', '{}', $2, $3, $3)`,
    [orderId, order.correlationId, placed],
  );
  const real = KafkaLogReader.prototype.readRange;
  vi.spyOn(KafkaLogReader.prototype, 'readRange').mockImplementation(function (this: KafkaLogReader, ...a) {
    if (a[0] === topic) reads.push({ from: a[2], until: a[3], at: performance.now() });
    return real.apply(this, a);
  });
}, 300_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await admin?.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await admin?.disconnect();
  await db?.drop();
});

describe('trace with a dead letter', () => {
  it('reads the rest of the partition while a DLQ search that found the letter goes on', async () => {
    const t = await withOps(db.config, (ctx) => traceOrder(ctx, orderId));
    // What it found is unchanged: the letter, the event in the window and its redriven copy.
    expect(t.entries.filter((e) => e.source === 'kafka-dlq')).toHaveLength(1);
    expect(t.entries.filter((e) => e.source === 'kafka').map((e) => e.where)).toEqual([
      `${topic}/0@${AT}`,
      `${topic}/0@${N}`,
    ]);
    expect(t.scanned).toMatchObject({ basis: 'order', untilTime: null, untilOffset: N + 1 });
    // The window first, then the rest, which started before the held search let go.
    expect(reads.map((r) => r.until)).toEqual([reads[0]?.until, N + 1]);
    expect(reads[1]?.from).toBe(reads[0]?.until);
    expect(searchReleasedAt).not.toBeNull();
    expect(reads[1]?.at).toBeLessThan(searchReleasedAt ?? 0);
  }, 60_000);
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import { KafkaDlqHeaders, type EventEnvelope } from '../../src/events/types.js';
import { EventConsumer } from '../../src/pipeline/event-consumer.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ label: 'batch', services: ['inventory'] });
});
afterAll(async () => {
  await p.stop();
});

describe('batch consumers (real Kafka, PostgreSQL, registry)', () => {
  it('the outbox wakes its relay once per statement, not once per row', async () => {
    const { rows } = await p.db.pool.query<{ orientation: string }>(
      `SELECT action_orientation AS orientation FROM information_schema.triggers
       WHERE event_object_schema = $1 AND event_object_table = 'outbox'`,
      [p.config.database.schema],
    );
    expect(rows.map((r) => r.orientation)).toEqual(['STATEMENT']);
  });

  it('handles a batch in one go, dead-letters only the record that keeps failing, and keeps each order once', async () => {
    const orders = Array.from({ length: 6 }, () => randomUUID());
    for (const id of orders)
      await p.db.pool.query(
        `INSERT INTO orders (id, customer_id, email, status, total_cents, items, shipping_address, payment_method, correlation_id)
         VALUES ($1, 'c', 'c@example.com', 'paid', 300, $2, '{}', '{}', $1)`,
        [id, JSON.stringify([{ sku: 'SKU-0001', quantity: 1, unitPriceCents: 100 }])],
      );
    const ghost = randomUUID(); // no such order: the handler fails for it every time
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const captured = [...orders.slice(0, 3), ghost, ...orders.slice(3)].map((orderId) =>
      nextEvent({ eventId: orderId, orderId, correlationId: orderId }, 'payment.captured', 'test', {
        chargeId: 'ch',
        amountCents: 300,
      }),
    );
    // The first event twice (a relay resend): reserved once all the same.
    const sent = [...captured, captured[0]!];
    const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-batch`));
    await producer.connect();
    await producer.send({
      topic: p.config.topics.orderEvents,
      acks: -1,
      // One partition, so the records arrive as one batch.
      messages: await Promise.all(
        sent.map(async (e) => ({
          key: e.orderId,
          partition: 0,
          value: await codec.encode(e),
          headers: eventHeaders(e),
        })),
      ),
    });
    await producer.disconnect();
    await waitUntil(
      'every real order reserved',
      async () => {
        const r = await p.db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM reservations WHERE order_id = ANY($1::uuid[])',
          [orders],
        );
        return r.rows[0]?.n === orders.length;
      },
      { timeoutMs: 60_000 },
    );
    const out = await p.db.pool.query<{ order_id: string; type: string }>(
      'SELECT order_id, type FROM outbox WHERE order_id = ANY($1::uuid[]) ORDER BY id',
      [[...orders, ghost]],
    );
    expect(out.rows.map((r) => r.order_id)).toEqual(orders);
    expect(new Set(out.rows.map((r) => r.type))).toEqual(new Set(['inventory.reserved']));
    const dlq = kafkaClient(p.config, `${p.ns}-dlq`).consumer({ groupId: `${p.ns}-dlq-reader` });
    const got: string[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: p.config.topics.orderEventsDlq, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.[KafkaDlqHeaders.consumerGroup]?.toString() === `${p.ns}.inventory`)
          got.push(message.key?.toString() ?? '');
      },
    });
    await waitUntil('the ghost order dead-lettered', () => got.length >= 1, { timeoutMs: 60_000 });
    await dlq.disconnect();
    expect(got).toEqual([ghost]);
  });

  it('commits handled offsets by interval, not per batch, and what is left when it stops', async () => {
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const topic = p.config.topics.orderEvents;
    const admin = await connectAdmin(p.config);
    const committed = async (groupId: string) =>
      (
        await admin.fetchOffsets({ groupId: `${p.config.kafka.groupPrefix}${groupId}`, topics: [topic] })
      )[0]?.partitions
        .map((x) => Number(x.offset))
        .reduce((a, b) => a + Math.max(0, b), 0) ?? 0;
    const high = async () =>
      (await admin.fetchTopicOffsets(topic)).map((x) => Number(x.high)).reduce((a, b) => a + b, 0);
    const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-commits`));
    await producer.connect();
    const seen = new Set<string>();
    const start = async (groupId: string, commitIntervalMs: number) => {
      const c = new EventConsumer(
        p.config,
        { log: () => undefined },
        {
          name: groupId,
          groupId,
          types: ['order.cancelled'],
          retryBatches: true,
          commitIntervalMs,
          partitionsConsumedConcurrently: 12,
          handleBatch: async (events: EventEnvelope[]) => {
            for (const e of events) seen.add(`${groupId}/${e.eventId}`);
          },
        },
        codec,
      );
      await c.start();
      return c;
    };
    const sendSome = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const id = randomUUID();
        const e = nextEvent({ eventId: id, orderId: id, correlationId: id }, 'order.cancelled', 'test', {
          reason: 'commit test',
        });
        // one record per send: many small batches across the partitions
        await producer.send({
          topic,
          acks: -1,
          messages: [{ key: e.orderId, value: await codec.encode(e), headers: eventHeaders(e) }],
        });
      }
    };
    try {
      // An interval longer than the test: nothing is committed while it runs, only at the stop.
      const slow = await start('commits-slow', 600_000);
      await sendSome(12);
      const target = await high();
      await waitUntil(
        '12 events handled',
        () => [...seen].filter((k) => k.startsWith('commits-slow/')).length >= 12,
        {
          timeoutMs: 60_000,
        },
      );
      expect(await committed('commits-slow')).toBeLessThan(target);
      await slow.stop();
      expect(await committed('commits-slow')).toBe(target);
      // A short interval: the last batches before a pause are committed without another batch.
      const fast = await start('commits-fast', 200);
      try {
        await sendSome(6);
        const now = await high();
        await waitUntil('the pause committed', async () => (await committed('commits-fast')) === now, {
          timeoutMs: 30_000,
        });
      } finally {
        await fast.stop();
      }
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 120_000);

  it('merges the batches of different partitions into one call; a partition whose batch keeps failing holds up only itself', async () => {
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const partitions = p.config.topics.partitions;
    // Three events per partition, sent at once: a batch per partition.
    const sent = Array.from({ length: partitions * 3 }, (_, i) => {
      const id = randomUUID();
      const e = nextEvent({ eventId: id, orderId: id, correlationId: id }, 'order.cancelled', 'test', {
        reason: 'merge test',
      });
      return { e, partition: i % partitions };
    });
    const partitionOf = new Map(sent.map((x) => [x.e.eventId, x.partition]));
    const poison = sent[1]?.e.eventId as string; // partition 1's first event fails every time
    const calls: { partitions: number; ok: boolean }[] = [];
    const handled = new Set<string>();
    let hold = true;
    /** How many records were dead-lettered when every other partition's events had been handled. */
    let othersDoneWithDeadLetters: number | undefined;
    const c: EventConsumer = new EventConsumer(
      p.config,
      { log: () => undefined },
      {
        name: 'merge',
        groupId: 'merge',
        types: ['order.cancelled'],
        retryBatches: true,
        mergePartitions: true,
        attempts: 2,
        partitionsConsumedConcurrently: partitions,
        handleBatch: async (events: EventEnvelope[]) => {
          const ok = !events.some((e) => e.eventId === poison);
          // (Records of the tests before, read from the topic's start, count for no partition.)
          const mine = events.flatMap((e) => partitionOf.get(e.eventId) ?? []);
          calls.push({ partitions: new Set(mine).size, ok });
          // The first call is a slow transaction: the other partitions' batches of the fetch
          // arrive while it runs, and go into the next call together.
          if (hold) {
            hold = false;
            await new Promise((r) => setTimeout(r, 300));
          }
          if (!ok) throw new Error('poison');
          for (const e of events) handled.add(e.eventId);
          if (
            othersDoneWithDeadLetters === undefined &&
            sent.every(({ e, partition }) => partition === 1 || handled.has(e.eventId))
          )
            othersDoneWithDeadLetters = c.deadLettered;
        },
      },
      codec,
    );
    const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-merge`));
    await producer.connect();
    try {
      // Written before the consumer starts: its first fetch holds every partition's batch (had
      // some come in a later fetch, kafkajs would fetch them only once the poison's partition
      // was done with its retries).
      await producer.send({
        topic: p.config.topics.orderEvents,
        acks: -1,
        messages: await Promise.all(
          sent.map(async ({ e, partition }) => ({
            key: e.orderId,
            partition,
            value: await codec.encode(e),
            headers: eventHeaders(e),
          })),
        ),
      });
      await c.start();
      await waitUntil(
        'every event but the poison handled, the poison dead-lettered',
        () => sent.every(({ e }) => e.eventId === poison || handled.has(e.eventId)) && c.deadLettered === 1,
        { timeoutMs: 60_000 },
      );
      expect(handled.has(poison)).toBe(false);
      // Calls held more than one partition's batch…
      expect(Math.max(...calls.map((x) => x.partitions))).toBeGreaterThanOrEqual(2);
      // …and the other partitions were done while the poison's was still being retried.
      expect(othersDoneWithDeadLetters).toBe(0);
    } finally {
      await c.stop();
      await producer.disconnect();
    }
  }, 120_000);

  it('a consumer kafkajs gives up on (a TypeError in its handler) is restarted and handles the record', async () => {
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const logged: { event: string; fields: Record<string, unknown> }[] = [];
    const id = randomUUID();
    let calls = 0;
    const handled: string[] = [];
    const c = new EventConsumer(
      p.config,
      { log: (event, fields = {}) => logged.push({ event, fields }) },
      {
        name: 'crash-once',
        groupId: 'crash-once',
        types: ['order.cancelled'],
        handleBatch: async (events: EventEnvelope[]) => {
          if (events.some((e) => e.orderId === id) && calls++ === 0)
            throw new TypeError('a bug in the handler');
          handled.push(...events.map((e) => e.orderId));
        },
      },
      codec,
    );
    const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-crash`));
    await producer.connect();
    try {
      await c.start();
      const e = nextEvent({ eventId: id, orderId: id, correlationId: id }, 'order.cancelled', 'test', {
        reason: 'crash test',
      });
      await producer.send({
        topic: p.config.topics.orderEvents,
        acks: -1,
        messages: [{ key: id, value: await codec.encode(e), headers: eventHeaders(e) }],
      });
      await waitUntil('the record handled after the restart', () => handled.includes(id), {
        timeoutMs: 60_000,
      });
      expect(calls).toBeGreaterThanOrEqual(2);
      const crash = logged.find((l) => l.event === 'consumer.crashed');
      expect(crash?.fields).toMatchObject({ restartedBy: 'orderbus' });
      expect(String(crash?.fields.error)).toContain('a bug in the handler');
      expect(logged.map((l) => l.event)).toContain('consumer.restarted');
    } finally {
      await c.stop();
      await producer.disconnect();
    }
  }, 120_000);
});

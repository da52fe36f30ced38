import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';
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
});

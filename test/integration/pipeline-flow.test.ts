import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { EventCodec, nextEvent } from '../../src/events/codec.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';
import { providerAdmin } from '../../src/providers/client.js';
import { CORE, startTestPipeline, TASKS, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ label: 'flow', services: [...CORE, 'loyalty', 'warehouse', ...TASKS] });
});
afterAll(async () => {
  await p.stop();
});

async function ledger(name: 'payment' | 'shipping' | 'email' | 'webhook') {
  return providerAdmin.ledger(p.providers[name].adminUrl);
}

describe('order pipeline end to end (real Kafka, RabbitMQ, PostgreSQL, registry)', () => {
  it('drives orders to notified or compensated, in per-order order, charging each once', async () => {
    const normal = await Promise.all(Array.from({ length: 12 }, (_, i) => p.placeOrder('normal', i)));
    const oos = await Promise.all(Array.from({ length: 3 }, (_, i) => p.placeOrder('out-of-stock', 100 + i)));
    const declined = await Promise.all(
      Array.from({ length: 3 }, (_, i) => p.placeOrder('declined', 200 + i)),
    );
    const statuses = await p.waitForTerminal([...normal, ...oos, ...declined], 90_000);
    for (const id of normal) expect(statuses[id]).toBe('notified');
    for (const id of [...oos, ...declined]) expect(statuses[id]).toBe('failed');

    const pay = await ledger('payment');
    expect(pay.duplicates).toBe(0);
    expect(pay.counts.charge).toBe(normal.length + oos.length);
    // Every failed order that was charged got its money back.
    expect(
      pay.entries
        .filter((e) => e.kind === 'refund')
        .map((e) => e.orderId)
        .sort(),
    ).toEqual([...oos].sort());
    expect((await ledger('shipping')).counts.label).toBe(normal.length);
    const emails = await ledger('email');
    expect(emails.duplicates).toBe(0);
    expect(emails.counts.email).toBe(2 * normal.length + oos.length);
    expect((await ledger('webhook')).counts.delivery).toBe(normal.length + oos.length);

    // The saga never saw a step skipped or repeated, and each timeline is in causal order.
    const rejected = await p.db.pool.query('SELECT count(*)::int AS n FROM rejected_transitions');
    expect(rejected.rows[0].n).toBe(0);
    const order = [
      'order.placed',
      'payment.captured',
      'inventory.reserved',
      'shipping.created',
      'customer.notified',
    ];
    for (const id of normal) {
      const r = await fetch(`${p.checkoutUrl}/api/orders/${id}`);
      const body = (await r.json()) as { status: string; timeline: { type: string }[] };
      expect(body.status).toBe('notified');
      const seen = body.timeline.map((t) => t.type).filter((t) => order.includes(t));
      expect(seen).toEqual(order);
    }
    // Fan-out groups caught up too (warehouse ingests in batches).
    await waitUntil('warehouse ingested every event', async () => {
      const r = await p.db.pool.query('SELECT count(DISTINCT order_id)::int AS n FROM warehouse_events');
      return r.rows[0].n === normal.length + oos.length + declined.length;
    });
  });

  it('answers 400 field by field, 413 over 64 KB, 400 for non-JSON, and replays an Idempotency-Key', async () => {
    const bad = await fetch(`${p.checkoutUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: '', quantity: 0 }] }),
    });
    expect(bad.status).toBe(400);
    const errs = ((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field);
    expect(errs).toEqual(
      expect.arrayContaining([
        'customerId',
        'email',
        'items[0].sku',
        'items[0].quantity',
        'shippingAddress',
        'paymentMethod',
      ]),
    );
    const big = await fetch(`${p.checkoutUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
    });
    expect(big.status).toBe(413);
    const notJson = await fetch(`${p.checkoutUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    const body = JSON.stringify((await import('../../src/devstack/load/load.js')).sampleOrder('normal', 7));
    const first = await fetch(`${p.checkoutUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${p.ns}-k1` },
      body,
    });
    const second = await fetch(`${p.checkoutUrl}/api/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${p.ns}-k1` },
      body,
    });
    expect(((await first.json()) as { orderId: string }).orderId).toBe(
      ((await second.json()) as { orderId: string }).orderId,
    );
    const count = await p.db.pool.query(
      'SELECT count(*)::int AS n FROM checkout_requests WHERE idempotency_key = $1',
      [`${p.ns}-k1`],
    );
    expect(count.rows[0].n).toBe(1);
    // The same key sent concurrently: the requests share a statement or race across statements;
    // either way one order, and every answer names it.
    const same = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetch(`${p.checkoutUrl}/api/checkout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${p.ns}-k2` },
          body,
        }),
      ),
    );
    expect(same.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    const ids = new Set(
      await Promise.all(same.map(async (r) => ((await r.json()) as { orderId: string }).orderId)),
    );
    expect(ids.size).toBe(1);
    const placed = await p.db.pool.query('SELECT count(*)::int AS n FROM orders WHERE id = $1', [
      [...ids][0],
    ]);
    expect(placed.rows[0].n).toBe(1);
    const events = await p.db.pool.query(
      "SELECT count(*)::int AS n FROM outbox WHERE order_id = $1 AND type = 'order.placed'",
      [[...ids][0]],
    );
    expect(events.rows[0].n).toBe(1);
  });

  it('sends poison records (not wire format, schema-invalid, unknown schema id) to the DLQ with context and keeps the partition flowing', async () => {
    const kafka = kafkaClient(p.config, `${p.ns}-poison`);
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const orderId = '00000000-0000-4000-8000-000000000001';
    // Schema-invalid: a real schema id with a payload that breaks it.
    const valid = await codec.encode(
      nextEvent({ eventId: orderId, orderId, correlationId: orderId }, 'payment.failed', 'test', {
        reason: 'x',
      }),
    );
    const invalid = Buffer.concat([
      valid.subarray(0, 5),
      Buffer.from(JSON.stringify({ eventId: 'e', type: 'payment.failed', data: {} })),
    ]);
    await producer.send({
      topic: p.config.topics.orderEvents,
      acks: -1,
      messages: [
        { key: orderId, value: Buffer.from('not an event at all') },
        { key: orderId, value: invalid, headers: { 'event-type': 'payment.failed' } },
        { key: orderId, value: Buffer.from([0, 0, 0, 0x7f, 0x7f, 0x7b, 0x7d]) },
      ],
    });
    await producer.disconnect();
    // A real order placed after the poison on any partition still completes.
    const after = await p.placeOrder('normal', 999);
    const dlq = kafka.consumer({ groupId: `${p.ns}-dlq-reader` });
    const got: { cls: string; group: string; offset: string }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: p.config.topics.orderEventsDlq, fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        const h = (k: string) => message.headers?.[k]?.toString() ?? '';
        got.push({
          cls: h(KafkaDlqHeaders.errorClass),
          group: h(KafkaDlqHeaders.consumerGroup),
          offset: h(KafkaDlqHeaders.originalOffset),
        });
        expect(h(KafkaDlqHeaders.originalTopic)).toBe(p.config.topics.orderEvents);
        expect(h(KafkaDlqHeaders.firstFailureAt)).toMatch(/^\d{4}-/);
      },
    });
    await waitUntil(
      'the saga dead-lettered all three poison records',
      () => got.filter((g) => g.group === `${p.ns}.saga`).length >= 3,
      { timeoutMs: 60_000 },
    );
    await dlq.disconnect();
    expect(new Set(got.filter((g) => g.group === `${p.ns}.saga`).map((g) => g.cls))).toEqual(
      new Set(['UndecodableRecord', 'SchemaInvalid']),
    );
    expect((await p.waitForTerminal([after]))[after]).toBe('notified');
  });

  it('cancels an order that has not shipped (compensating), and answers 409 for one that has', async () => {
    await providerAdmin.faults(p.providers.shipping.adminUrl, { down: '503' });
    const id = await p.placeOrder('normal', 4242);
    await waitUntil('order reserved', async () => (await p.statuses([id]))[id] === 'reserved', {
      timeoutMs: 30_000,
    });
    const r = await fetch(`${p.checkoutUrl}/api/orders/${id}/cancel`, { method: 'POST' });
    expect(r.status).toBe(202);
    await waitUntil('order cancelled', async () => (await p.statuses([id]))[id] === 'cancelled', {
      timeoutMs: 30_000,
    });
    await providerAdmin.faults(p.providers.shipping.adminUrl, {});
    await waitUntil('refund recorded', async () =>
      (await ledger('payment')).entries.some((e) => e.kind === 'refund' && e.orderId === id),
    );
    // The label job, retrying while the provider was down, is closed at its next lease: no label.
    await waitUntil(
      'shipment closed as cancelled',
      async () =>
        (
          await p.db.pool.query('SELECT 1 FROM shipments WHERE order_id = $1 AND status = $2', [
            id,
            'cancelled',
          ])
        ).rowCount === 1,
      { timeoutMs: 30_000 },
    );
    expect((await ledger('shipping')).entries.filter((e) => e.orderId === id)).toEqual([]);
    const res = await p.db.pool.query<{ status: string }>(
      'SELECT status FROM reservations WHERE order_id = $1',
      [id],
    );
    expect(res.rows[0]?.status).toBe('released');
    const shipped = (
      await p.db.pool.query<{ id: string }>("SELECT id FROM orders WHERE status = 'notified' LIMIT 1")
    ).rows[0]?.id;
    const conflict = await fetch(`${p.checkoutUrl}/api/orders/${shipped}/cancel`, { method: 'POST' });
    expect(conflict.status).toBe(409);
  });
});

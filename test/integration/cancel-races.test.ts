import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerAdmin } from '../../src/providers/client.js';
import { CORE, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

/** Issue 16: a cancel that lands while payment or shipping is busy with the order. */
let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ label: 'races', services: CORE });
}, 120_000);
afterAll(async () => {
  await p?.stop();
});

const entriesOf = async (name: 'payment' | 'shipping', orderId: string) =>
  (await providerAdmin.ledger(p.providers[name].adminUrl)).entries
    .filter((e) => e.orderId === orderId)
    .map((e) => e.kind);

const cancel = async (id: string) => {
  const r = await fetch(`${p.checkoutUrl}/api/orders/${id}/cancel`, { method: 'POST' });
  expect(r.status).toBe(202);
  await waitUntil('order cancelled', async () => (await p.statuses([id]))[id] === 'cancelled');
};

const one = async <R extends Record<string, unknown>>(sql: string, id: string) =>
  (await p.db.pool.query<R>(sql, [id])).rows[0];

describe('cancel races', () => {
  it('payment skips an order cancelled before its charge: no charge, no refund', async () => {
    // The gateway is down: payment retries the order while the customer cancels it.
    await providerAdmin.faults(p.providers.payment.adminUrl, { down: '503' });
    const id = await p.placeOrder('normal', 7001);
    try {
      await cancel(id);
    } finally {
      await providerAdmin.faults(p.providers.payment.adminUrl, {});
    }
    await waitUntil('payment recorded', async () =>
      one('SELECT status FROM payments WHERE order_id = $1', id),
    );
    expect(await one('SELECT status, charge_id FROM payments WHERE order_id = $1', id)).toEqual({
      status: 'skipped',
      charge_id: null,
    });
    // Settled: the saga took payment.failed without moving the order.
    await waitUntil('payment.failed applied', async () =>
      one("SELECT 1 FROM order_timeline WHERE order_id = $1 AND type = 'payment.failed'", id),
    );
    expect(await entriesOf('payment', id)).toEqual([]);
    expect((await p.statuses([id]))[id]).toBe('cancelled');
  }, 90_000);

  it('shipping voids a label made while its order was cancelled, and emits no shipping.created', async () => {
    // The label call takes 8 s: the cancel lands between the lease and the finish.
    await providerAdmin.faults(p.providers.shipping.adminUrl, { latencyMs: 8000 });
    try {
      const id = await p.placeOrder('normal', 7002);
      await waitUntil('label job leased', async () =>
        one(
          "SELECT 1 FROM shipments WHERE order_id = $1 AND status = 'pending' AND locked_until > now()",
          id,
        ),
      );
      await cancel(id);
      // Still in the label call: the race is the one under test.
      expect(await one('SELECT status FROM shipments WHERE order_id = $1', id)).toEqual({
        status: 'pending',
      });
      await waitUntil(
        'shipment closed',
        async () =>
          (await one<{ status: string }>('SELECT status FROM shipments WHERE order_id = $1', id))?.status !==
          'pending',
        { timeoutMs: 30_000 },
      );
      expect(await one('SELECT status FROM shipments WHERE order_id = $1', id)).toEqual({
        status: 'cancelled',
      });
      expect(await entriesOf('shipping', id)).toEqual(['label', 'void']);
      expect(
        await one(
          "SELECT count(*)::int AS n FROM outbox WHERE order_id = $1 AND type = 'shipping.created'",
          id,
        ),
      ).toEqual({ n: 0 });
      await waitUntil('refund made', async () => (await entriesOf('payment', id)).includes('refund'));
      expect((await p.statuses([id]))[id]).toBe('cancelled');
    } finally {
      await providerAdmin.faults(p.providers.shipping.adminUrl, {});
    }
  }, 90_000);
});

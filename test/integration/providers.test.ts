import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProvider, type Provider } from '../../src/providers/index.js';
import { callProvider, providerAdmin, ProviderCallError } from '../../src/providers/client.js';
import { testNamespace } from '../support/namespace.js';
import { testDatabase } from '../support/database.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let payment: Provider;
let webhook: Provider;

beforeAll(async () => {
  db = await testDatabase(testNamespace('prov'));
  payment = createProvider('payment', db.pool);
  webhook = createProvider('webhook', db.pool);
  await payment.start();
  await webhook.start();
});

afterAll(async () => {
  await payment.stop();
  await webhook.stop();
  await db.drop();
});

describe('simulated providers', () => {
  it('a retried idempotency key replays the first response and never charges twice, even concurrently', async () => {
    const body = {
      orderId: 'o-1',
      amountCents: 1299,
      currency: 'EUR',
      method: { type: 'card', token: 'tok_ok' },
    };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        callProvider<{ chargeId: string }>(`${payment.url}/charges`, body, 'payment-o-1'),
      ),
    );
    expect(new Set(results.map((r) => r.body.chargeId)).size).toBe(1);
    const again = await callProvider<{ chargeId: string }>(`${payment.url}/charges`, body, 'payment-o-1');
    expect(again.replayed).toBe(true);
    const ledger = await providerAdmin.ledger(payment.adminUrl);
    expect(ledger.counts.charge).toBe(1);
    expect(ledger.duplicates).toBe(0);
  });

  it('answers a new key with one statement, and a refused retry of a stored key with its stored answer', async () => {
    const queries = vi.spyOn(db.pool, 'query');
    try {
      const first = await callProvider<{ chargeId: string }>(
        `${payment.url}/charges`,
        { orderId: 'o-5', amountCents: 700 },
        'payment-o-5',
      );
      expect(first.status).toBe(201);
      // The answer and its ledger entry in one round trip: no lookup of the key before it.
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockClear();
      // A retry whose body the route would refuse (no amount) still gets the first answer.
      const retry = await callProvider<{ chargeId: string }>(
        `${payment.url}/charges`,
        { orderId: 'o-5' },
        'payment-o-5',
      );
      expect(retry).toMatchObject({ status: 201, replayed: true, body: { chargeId: first.body.chargeId } });
    } finally {
      queries.mockRestore();
    }
    const ledger = await providerAdmin.ledger(payment.adminUrl);
    expect(ledger.entries.filter((e) => e.orderId === 'o-5')).toHaveLength(1);
  });

  it('declines a declining card with 402 and records it', async () => {
    const r = await callProvider<{ status: string }>(
      `${payment.url}/charges`,
      { orderId: 'o-2', amountCents: 500, method: { token: 'tok_decline' } },
      'payment-o-2',
    );
    expect(r.status).toBe(402);
    expect(r.body.status).toBe('declined');
  });

  it('turns fault knobs: 503, refused connections, latency, and heals; the admin port stays reachable', async () => {
    await providerAdmin.faults(payment.adminUrl, { down: '503' });
    await expect(
      callProvider(`${payment.url}/charges`, { orderId: 'o-3', amountCents: 1 }, 'payment-o-3'),
    ).rejects.toMatchObject({ status: 503, retriable: true });
    await providerAdmin.faults(payment.adminUrl, { down: 'refuse' });
    const refused = await callProvider(
      `${payment.url}/charges`,
      { orderId: 'o-3', amountCents: 1 },
      'payment-o-3',
    ).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderCallError);
    expect((refused as ProviderCallError).status).toBeNull();
    await providerAdmin.faults(payment.adminUrl, { latencyMs: 150 });
    const t0 = Date.now();
    await callProvider(`${payment.url}/charges`, { orderId: 'o-3', amountCents: 1 }, 'payment-o-3');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await providerAdmin.faults(payment.adminUrl, {});
  });

  it('answers 410 Gone with the new location at a moved path, and delivers at the new one once per key', async () => {
    await providerAdmin.faults(webhook.adminUrl, { movedFrom: '/hooks/v1', movedTo: '/hooks/v2' });
    const gone = await callProvider(`${webhook.url}/hooks/v1/orders`, { orderId: 'o-9' }, 'task-1').catch(
      (e: unknown) => e as ProviderCallError,
    );
    expect(gone).toMatchObject({ status: 410, retriable: false, errorClass: 'HttpGone' });
    expect((gone as ProviderCallError).responseBody).toMatchObject({
      location: `${webhook.url}/hooks/v2/orders`,
    });
    await callProvider(`${webhook.url}/hooks/v2/orders`, { orderId: 'o-9' }, 'task-1');
    await callProvider(`${webhook.url}/hooks/v2/orders`, { orderId: 'o-9' }, 'task-1');
    const ledger = await providerAdmin.ledger(webhook.adminUrl);
    expect(ledger.counts.delivery).toBe(1);
  });

  it('keeps idempotency across a provider restart (durable keys)', async () => {
    const first = await callProvider<{ chargeId: string }>(
      `${payment.url}/charges`,
      { orderId: 'o-7', amountCents: 10 },
      'payment-o-7',
    );
    await payment.stop();
    const again = createProvider('payment', db.pool);
    await again.start();
    const replay = await callProvider<{ chargeId: string }>(
      `${again.url}/charges`,
      { orderId: 'o-7', amountCents: 10 },
      'payment-o-7',
    );
    expect(replay.body.chargeId).toBe(first.body.chargeId);
    payment = again;
  });
});

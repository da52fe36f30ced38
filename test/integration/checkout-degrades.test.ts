import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderbusConfig } from '../../src/config.js';
import { freePort } from '../../src/devstack/chaos/pipeline.js';
import { TcpFaultProxy } from '../../src/devstack/chaos/tcp-proxy.js';
import { sampleOrder } from '../../src/devstack/load/load.js';
import { CheckoutApi } from '../../src/pipeline/checkout-api.js';
import { testDatabase } from '../support/database.js';
import { testNamespace } from '../support/namespace.js';

/**
 * Checkout against the real PostgreSQL (a private schema per run): Idempotency-Key rules, hostile
 * text, and honest 503s when the database is unreachable or stops answering.
 */
let db: Awaited<ReturnType<typeof testDatabase>>;
const started: { stop: () => Promise<void> }[] = [];

beforeAll(async () => {
  db = await testDatabase(testNamespace('checkout'));
});
afterAll(async () => {
  for (const s of started.reverse()) await s.stop().catch(() => undefined);
  await db.drop();
});

/** A checkout API on a random port, its database at `databaseUrl` (default: the real one). */
async function startCheckout(databaseUrl = db.config.database.url): Promise<CheckoutApi> {
  const config: OrderbusConfig = {
    ...db.config,
    database: { ...db.config.database, url: databaseUrl },
    http: { ...db.config.http, checkoutPort: 0 },
  };
  const api = new CheckoutApi(config, { log: () => undefined }, { poolSize: 4 });
  await api.start(0);
  started.push(api);
  return api;
}

async function post(
  api: CheckoutApi,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${api.url}/api/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const parsed = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body: parsed, headers: res.headers, ms: performance.now() - t0 };
}

/** A 503 that says what happened, with Retry-After, and no driver text. */
function expectHonest503(r: Awaited<ReturnType<typeof post>>): void {
  expect(r.status).toBe(503);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(['database_unavailable', 'overloaded']).toContain(r.body.error);
  expect(typeof r.body.message).toBe('string');
  expect(JSON.stringify(r.body)).not.toMatch(/ECONN|terminat|timeout exceeded|127\.0\.0\.1|postgres/i);
  expect(r.ms).toBeLessThan(2000);
}

describe('checkout Idempotency-Key and hostile text (real PostgreSQL)', () => {
  let api: CheckoutApi;
  beforeAll(async () => {
    api = await startCheckout();
  });

  it('answers 422 when a key is reused with a different body, and replays it with the same body', async () => {
    const key = testNamespace('key');
    const order = sampleOrder('normal', 11);
    const first = await post(api, order, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    // Same body with its keys in another order: the same request, replayed.
    const reordered = Object.fromEntries(Object.entries(order).reverse());
    const again = await post(api, reordered, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.body.orderId).toBe(first.body.orderId);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await post(api, { ...order, customerId: 'someone-else' }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('idempotency_key_reused');
    // Concurrent reuse with another body, sharing a statement with the first: still 422.
    const key2 = testNamespace('key');
    const [a, b] = await Promise.all([
      post(api, sampleOrder('normal', 12), { 'idempotency-key': key2 }),
      post(api, sampleOrder('normal', 13), { 'idempotency-key': key2 }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 422]);
    const orders = await db.pool.query(
      'SELECT count(*)::int AS n FROM orders WHERE customer_id = ANY($1::text[])',
      [['someone-else']],
    );
    expect(orders.rows[0].n).toBe(0);
  });

  it('answers 400 for a key over 255 characters instead of truncating it; 255 is fine', async () => {
    const long = 'k'.repeat(256);
    const r = await post(api, sampleOrder('normal', 21), { 'idempotency-key': long });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_idempotency_key');
    const truncated = await db.pool.query(
      'SELECT count(*)::int AS n FROM checkout_requests WHERE idempotency_key = left($1, 200)',
      [long],
    );
    expect(truncated.rows[0].n).toBe(0);
    const max = `${testNamespace('key')}-`.padEnd(255, 'x');
    expect((await post(api, sampleOrder('normal', 22), { 'idempotency-key': max })).status).toBe(201);
  });

  it('answers 400 naming the field for a NUL character or a lone surrogate, in any string field', async () => {
    const order = sampleOrder('normal', 31) as Record<string, unknown> & {
      shippingAddress: Record<string, unknown>;
    };
    // Written by hand: JSON.stringify would escape the lone surrogate the same way, this is explicit.
    const bodies: [string, string][] = [
      [JSON.stringify({ ...order, customerId: 'c\u00001' }), 'customerId'],
      [
        JSON.stringify({ ...order, shippingAddress: { ...order.shippingAddress, city: 'CITY' } }).replace(
          'CITY',
          'Ly\\ud800on',
        ),
        'shippingAddress.city',
      ],
      [JSON.stringify({ ...order, note: 'NOTE' }).replace('NOTE', '\\udc00'), 'note'],
    ];
    for (const [body, field] of bodies) {
      const r = await post(api, body);
      expect(r.status, body).toBe(400);
      expect((r.body.errors as { field: string }[]).map((e) => e.field)).toEqual([field]);
    }
  });

  it('answers a ReDoS email quickly and keeps serving others meanwhile', async () => {
    const hostile = post(api, { ...sampleOrder('normal', 41), email: `a@${'.'.repeat(64_000)}@` });
    const normal = await post(api, sampleOrder('normal', 42));
    expect(normal.status).toBe(201);
    const r = await hostile;
    expect(r.status).toBe(400);
    expect(r.ms).toBeLessThan(1000);
  });
});

describe('checkout when the database is away (503 + Retry-After within 2 s)', () => {
  it('answers 503 with Retry-After when PostgreSQL is unreachable (connection refused)', async () => {
    const port = await freePort();
    const url = new URL(db.config.database.url);
    url.port = String(port);
    const api = await startCheckout(url.toString());
    for (const key of [undefined, testNamespace('key')]) {
      const r = await post(api, sampleOrder('normal', 51), key ? { 'idempotency-key': key } : {});
      expectHonest503(r);
      expect(r.body.error).toBe('database_unavailable');
    }
  });

  it('answers 503 with Retry-After within 2 s when PostgreSQL stops answering (black hole), then recovers', async () => {
    const url = new URL(db.config.database.url);
    const proxy = new TcpFaultProxy(0, Number(url.port || 5432), url.hostname);
    await proxy.start();
    started.push(proxy);
    url.port = String(proxy.port);
    const api = await startCheckout(url.toString());
    // Warm: connections open through the proxy, then the proxy passes nothing.
    expect((await post(api, sampleOrder('normal', 61))).status).toBe(201);
    proxy.setFaults({ blackhole: true });
    const key = testNamespace('key');
    // More requests than the pool has connections, some with a key (the replay path).
    const during = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(api, sampleOrder('normal', 62 + i), i % 2 ? { 'idempotency-key': `${key}-${i}` } : {}),
      ),
    );
    for (const r of during) expectHonest503(r);
    // A second wave finds the pool's connections stalled or being opened: still bounded.
    const wave2 = await Promise.all(
      Array.from({ length: 4 }, (_, i) => post(api, sampleOrder('normal', 80 + i))),
    );
    for (const r of wave2) expectHonest503(r);
    proxy.heal();
    let after = await post(api, sampleOrder('normal', 90));
    // Connections stalled during the fault are destroyed, so the pool heals on the next requests.
    for (let i = 0; i < 10 && after.status !== 201; i++) after = await post(api, sampleOrder('normal', 90));
    expect(after.status).toBe(201);
  });
});

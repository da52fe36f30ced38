import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPool, type Pool, type PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent, SCHEMA_VERSION } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { HttpError, JsonServer, readJson, sendJson } from '../http/json-server.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { validateCheckout, type CheckoutBody } from './checkout-validate.js';
import { cancellable, type OrderStatus } from './order-state.js';
import { appendOutbox, shardOf, wakerFor, type OutboxWaker } from './outbox.js';

export const MAX_BODY_BYTES = 64 * 1024;
/** How long opening a new database connection may take before the request gets a 503. */
const OPEN_TIMEOUT_MS = 5000;

/**
 * $1 idempotency key or null, $2 order id, $3 response, $4–$11 the order, $12–$14 the outbox row.
 * `quiet` turns the outbox trigger's NOTIFY off for this statement's transaction: the API wakes the
 * relay itself, once for many checkouts (OutboxWaker).
 */
export const PLACE_ORDER_SQL = `
WITH quiet AS (
  SELECT set_config('orderbus.outbox_notify', 'off', true)
), req AS (
  INSERT INTO checkout_requests (idempotency_key, order_id, response)
  SELECT $1::text, $2::uuid, $3::jsonb WHERE $1::text IS NOT NULL
  ON CONFLICT DO NOTHING RETURNING 1
), ord AS (
  INSERT INTO orders (id, customer_id, email, status, total_cents, currency, items, shipping_address, payment_method, correlation_id)
  SELECT $2::uuid, $4, $5, 'pending', $6, $7, $8, $9, $10, $11
  WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM req)
  RETURNING id
)
INSERT INTO outbox (shard, event_id, order_id, type, envelope)
SELECT $12, $13, id, 'order.placed', $14 FROM ord, quiet
ON CONFLICT (event_id) DO NOTHING`;

/**
 * The checkout API. A checkout validates without any external call and writes the order and its
 * order.placed outbox row in one short transaction — it never calls Kafka, RabbitMQ or a provider.
 * The pool is bounded and a caller waits at most `acquireTimeoutMs` for a connection: under
 * overload the API answers 503 quickly instead of queuing for seconds.
 */
export class CheckoutApi implements Service {
  readonly name = 'checkout-api';
  private readonly server: JsonServer;
  private readonly pool: Pool;
  private readonly ownPool: boolean;
  private readonly poolMax: number;
  private readonly acquireTimeoutMs: number;
  private readonly waker: OutboxWaker;
  /** Connections being opened right now: requests queued behind them are not overload. */
  private opening = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    options: { pool?: Pool; poolSize?: number; acquireTimeoutMs?: number } = {},
  ) {
    this.ownPool = !options.pool;
    this.poolMax = options.poolSize ?? config.database.poolSize;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 250;
    // The pool's own timeout only bounds opening a connection; connect() bounds the wait.
    this.pool =
      options.pool ?? createPool(config, { max: this.poolMax, connectionTimeoutMillis: OPEN_TIMEOUT_MS });
    this.waker = wakerFor(this.pool, ctx);
    this.server = new JsonServer((req, res) => this.route(req, res), config.http.host);
  }

  get port(): number {
    return this.server.port;
  }

  get url(): string {
    return `http://${this.config.http.host}:${this.server.port}`;
  }

  async start(port = this.config.http.checkoutPort): Promise<void> {
    await this.server.listen(port);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.waker.idle();
    if (this.ownPool) await this.pool.end();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://checkout');
    if (req.method === 'POST' && url.pathname === '/api/checkout') return this.checkout(req, res);
    const m = /^\/api\/orders\/([0-9a-f-]{36})(\/cancel)?$/.exec(url.pathname);
    if (m && req.method === 'GET' && !m[2]) return this.getOrder(m[1] as string, res);
    if (m && req.method === 'POST' && m[2]) return this.cancel(m[1] as string, res);
    if (url.pathname === '/health')
      return sendJson(res, 200, {
        ok: true,
        pool: { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount },
      });
    sendJson(res, 404, { error: 'not_found' });
  }

  /**
   * A connection, waiting at most `acquireTimeoutMs` while every connection is busy (overload:
   * answer 503 quickly) but longer while the pool is opening connections (a slow backend start
   * under load is not overload, and must not fail the first requests after a quiet spell).
   */
  private async connect(): Promise<PoolClient> {
    const opens = this.pool.idleCount === 0 && this.pool.totalCount < this.poolMax;
    const limit =
      opens || this.opening > 0 ? Math.max(this.acquireTimeoutMs, OPEN_TIMEOUT_MS) : this.acquireTimeoutMs;
    const pending = this.pool.connect();
    if (opens) {
      this.opening++;
      pending.then(
        () => this.opening--,
        () => this.opening--,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), limit)),
    );
    try {
      const client = await Promise.race([pending, timedOut]);
      if (client) return client;
      // Still queued: hand the connection straight back when it comes.
      pending.then(
        (c) => c.release(),
        () => undefined,
      );
      throw new Error(`no connection free within ${limit} ms`);
    } catch (e) {
      throw new HttpError(503, {
        error: 'overloaded',
        message: 'no database connection free; retry shortly',
        detail: e instanceof Error ? e.message : String(e),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async checkout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!String(req.headers['content-type'] ?? 'application/json').includes('json'))
      throw new HttpError(415, { error: 'unsupported_media_type', expected: 'application/json' });
    const body = await readJson(req, MAX_BODY_BYTES);
    const v = validateCheckout(body);
    if (!v.ok) return sendJson(res, 400, { error: 'validation_failed', errors: v.errors });
    const key = req.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' && key.length > 0 ? key.slice(0, 200) : undefined;
    const { orderId, response, params } = checkoutRow(v.value, idempotencyKey);
    // One statement, so one round trip and an implicit transaction: the idempotency key (if any),
    // the order and its order.placed outbox row commit together or not at all. A key seen before
    // inserts nothing (ON CONFLICT waits for a concurrent twin to commit) and the first answer is
    // replayed.
    const client = await this.connect();
    try {
      const ins = await client.query(PLACE_ORDER_SQL, params);
      if (ins.rowCount === 0) {
        if (!idempotencyKey) throw new Error(`order ${orderId} was not inserted`);
        const first = await client.query<{ response: unknown }>(
          'SELECT response FROM checkout_requests WHERE idempotency_key = $1',
          [idempotencyKey],
        );
        return sendJson(res, 201, first.rows[0]?.response ?? {}, { 'idempotent-replayed': 'true' });
      }
    } finally {
      client.release();
    }
    this.waker.poke();
    sendJson(res, 201, response, { location: `/api/orders/${orderId}` });
  }

  private async getOrder(id: string, res: ServerResponse): Promise<void> {
    const o = await this.pool
      .query(
        'SELECT id, status, customer_id, total_cents, currency, tracking_number, failure_reason, created_at, updated_at FROM orders WHERE id = $1',
        [id],
      )
      .catch((e: unknown) => {
        throw new HttpError(503, { error: 'unavailable', detail: String(e) });
      });
    const row = o.rows[0] as Record<string, unknown> | undefined;
    if (!row) return sendJson(res, 404, { error: 'order_not_found', orderId: id });
    const t = await this.pool.query(
      'SELECT type, source, occurred_at, event_id FROM order_timeline WHERE order_id = $1 ORDER BY occurred_at, recorded_at',
      [id],
    );
    sendJson(res, 200, {
      orderId: row.id,
      status: row.status,
      customerId: row.customer_id,
      totalCents: Number(row.total_cents),
      currency: row.currency,
      trackingNumber: row.tracking_number,
      failureReason: row.failure_reason,
      timeline: t.rows.map((r: Record<string, unknown>) => ({
        type: r.type,
        source: r.source,
        at: (r.occurred_at as Date).toISOString(),
        eventId: r.event_id,
      })),
    });
  }

  private async cancel(id: string, res: ServerResponse): Promise<void> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const o = await client.query<{ status: OrderStatus; correlation_id: string }>(
        'SELECT status, correlation_id FROM orders WHERE id = $1 FOR UPDATE',
        [id],
      );
      const row = o.rows[0];
      if (!row) {
        await client.query('ROLLBACK');
        return sendJson(res, 404, { error: 'order_not_found', orderId: id });
      }
      if (!cancellable(row.status)) {
        await client.query('ROLLBACK');
        return sendJson(res, 409, { error: 'not_cancellable', orderId: id, status: row.status });
      }
      // Touch the row so a second cancel in flight serializes behind this one.
      await client.query('UPDATE orders SET updated_at = now() WHERE id = $1', [id]);
      const already = await client.query(
        "SELECT 1 FROM outbox WHERE order_id = $1 AND type = 'order.cancelled'",
        [id],
      );
      if ((already.rowCount ?? 0) === 0) {
        await appendOutbox(client, [
          nextEvent(
            { eventId: row.correlation_id, orderId: id, correlationId: row.correlation_id },
            'order.cancelled',
            'checkout',
            { reason: 'customer_request' },
          ),
        ]);
      }
      await client.query('COMMIT');
      sendJson(res, 202, { orderId: id, status: 'cancelling' });
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}

/** A new order's id, its 201 body and the parameters of PLACE_ORDER_SQL. */
export function checkoutRow(
  order: CheckoutBody,
  idempotencyKey?: string,
): { orderId: string; response: { orderId: string; status: 'pending' }; params: unknown[] } {
  const orderId = randomUUID();
  const correlationId = randomUUID();
  const totalCents = order.items.reduce((s, i) => s + i.quantity * i.unitPriceCents, 0);
  const placed: EventEnvelope = {
    ...nextEvent({ eventId: correlationId, orderId, correlationId }, 'order.placed', 'checkout', {
      customerId: order.customerId,
      email: order.email,
      items: order.items.map((i) => ({
        sku: i.sku,
        quantity: i.quantity,
        unitPriceCents: i.unitPriceCents,
      })),
      totalCents,
      currency: order.currency,
      shippingAddress: order.shippingAddress,
      paymentMethod: order.paymentMethod,
    }),
    schemaVersion: SCHEMA_VERSION,
  };
  const response = { orderId, status: 'pending' as const };
  return {
    orderId,
    response,
    params: [
      idempotencyKey ?? null,
      orderId,
      JSON.stringify(response),
      order.customerId,
      order.email,
      totalCents,
      order.currency,
      JSON.stringify(order.items),
      JSON.stringify(order.shippingAddress),
      JSON.stringify(order.paymentMethod),
      correlationId,
      shardOf(orderId),
      placed.eventId,
      JSON.stringify(placed),
    ],
  };
}

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
import { GroupCommit } from './group-commit.js';
import { appendOutbox, shardOf, wakerFor, type OutboxWaker, type Queryable } from './outbox.js';

export const MAX_BODY_BYTES = 64 * 1024;
/** How long opening a new database connection may take before the request gets a 503. */
const OPEN_TIMEOUT_MS = 5000;

/**
 * Places orders in one statement (one round trip, an implicit transaction): for each row its
 * idempotency key (if any), the order and its order.placed outbox row commit together or not at
 * all. A row whose key was seen before (or that repeats a key of the same statement) inserts
 * nothing. Each parameter is an array with one element per order, in the order of
 * `checkoutRow().params`: $1 idempotency key or null, $2 order id, $3 response, $4–$11 the order,
 * $12–$14 the outbox row. `quiet` turns the outbox trigger's NOTIFY off for the transaction: the
 * API wakes the relay itself, once for many checkouts (OutboxWaker). Outbox rows get ids in the
 * rows' order.
 */
export const PLACE_ORDERS_SQL = `
WITH quiet AS (
  SELECT set_config('orderbus.outbox_notify', 'off', true)
), d AS (
  SELECT * FROM unnest($1::text[], $2::uuid[], $3::jsonb[], $4::text[], $5::text[], $6::bigint[], $7::text[],
    $8::jsonb[], $9::jsonb[], $10::jsonb[], $11::uuid[], $12::int[], $13::uuid[], $14::jsonb[]) WITH ORDINALITY
    AS d(idempotency_key, id, response, customer_id, email, total_cents, currency, items, shipping_address,
      payment_method, correlation_id, shard, event_id, envelope, n)
), req AS (
  INSERT INTO checkout_requests (idempotency_key, order_id, response)
  SELECT idempotency_key, id, response FROM d WHERE idempotency_key IS NOT NULL ORDER BY n
  ON CONFLICT DO NOTHING RETURNING order_id
), ord AS (
  INSERT INTO orders (id, customer_id, email, status, total_cents, currency, items, shipping_address, payment_method, correlation_id)
  SELECT id, customer_id, email, 'pending', total_cents, currency, items, shipping_address, payment_method, correlation_id
  FROM d WHERE idempotency_key IS NULL OR id IN (SELECT order_id FROM req) ORDER BY n
  RETURNING id
)
INSERT INTO outbox (shard, event_id, order_id, type, envelope)
SELECT d.shard, d.event_id, d.id, 'order.placed', d.envelope FROM d JOIN ord ON ord.id = d.id CROSS JOIN quiet
ORDER BY d.n
ON CONFLICT (event_id) DO NOTHING
RETURNING order_id`;

/** Runs PLACE_ORDERS_SQL for rows of `checkoutRow().params`; returns the ids of the orders placed. */
export async function placeOrders(client: Queryable, rows: unknown[][]): Promise<Set<string>> {
  const columns = Array.from({ length: 14 }, (_, c) => rows.map((r) => r[c]));
  const r = await client.query<{ order_id: string }>(PLACE_ORDERS_SQL, columns);
  return new Set(r.rows.map((x) => x.order_id.toLowerCase()));
}

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
  /** When the last connection finished opening (performance.now()). */
  private openedAt = -Infinity;
  private readonly places: GroupCommit<Placing, 'placed' | 'exists'>;

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
    // A few statements at once (the rest of the pool serves reads and cancels); a batch that did
    // not get a connection is overload for all its callers, not a reason to retry each alone.
    this.places = new GroupCommit((items) => this.writePlaces(items), {
      maxBatch: 64,
      concurrency: Math.max(1, Math.min(4, this.poolMax - 1)),
      retryAlone: (e) => !(e instanceof HttpError),
    });
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
    await this.places.idle();
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
    const limit = this.waitLimit(opens || this.opening > 0);
    const pending = this.pool.connect();
    if (opens) {
      this.opening++;
      const opened = () => {
        this.opening--;
        this.openedAt = performance.now();
      };
      pending.then(opened, opened);
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
      throw overloaded(e instanceof Error ? e.message : String(e));
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
    // Placed with the checkouts that arrive while earlier ones are written, in one statement and
    // transaction (see PLACE_ORDERS_SQL): the 201 is sent only after it committed. A key seen
    // before inserts nothing (ON CONFLICT waits for a concurrent twin to commit) and the first
    // answer is replayed.
    const placed = await this.places.add({ orderId, params, queuedAt: performance.now() });
    if (placed === 'exists') {
      if (!idempotencyKey) throw new Error(`order ${orderId} was not inserted`);
      const first = await this.pool.query<{ response: unknown }>(
        'SELECT response FROM checkout_requests WHERE idempotency_key = $1',
        [idempotencyKey],
      );
      return sendJson(res, 201, first.rows[0]?.response ?? {}, { 'idempotent-replayed': 'true' });
    }
    sendJson(res, 201, response, { location: `/api/orders/${orderId}` });
  }

  /**
   * One group of checkouts: those that waited for their turn longer than a connection may be
   * waited for (overload: answer 503 quickly) are answered so without being written; the others
   * are placed in one statement. A wait during which a connection was being opened is not
   * overload (see connect()).
   */
  private async writePlaces(items: Placing[]): Promise<('placed' | 'exists' | Error)[]> {
    const now = performance.now();
    const late = items.map((it) => {
      const waited = now - it.queuedAt;
      const opened = this.opening > 0 || this.openedAt >= it.queuedAt;
      return waited > this.waitLimit(opened)
        ? overloaded(`waited ${Math.round(waited)} ms for a connection`)
        : undefined;
    });
    const live = items.filter((_, i) => !late[i]);
    if (live.length === 0) return late as Error[];
    const client = await this.connect();
    let placed: Set<string>;
    try {
      placed = await placeOrders(
        client,
        live.map((it) => it.params),
      );
    } finally {
      client.release();
    }
    if (placed.size > 0) this.waker.poke();
    return items.map((it, i) => late[i] ?? (placed.has(it.orderId) ? 'placed' : 'exists'));
  }

  /** How long a checkout may wait for a connection: longer while one is being opened. */
  private waitLimit(opening: boolean): number {
    return opening ? Math.max(this.acquireTimeoutMs, OPEN_TIMEOUT_MS) : this.acquireTimeoutMs;
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

interface Placing {
  orderId: string;
  params: unknown[];
  /** performance.now() when the checkout asked for its turn. */
  queuedAt: number;
}

function overloaded(detail: string): HttpError {
  return new HttpError(503, {
    error: 'overloaded',
    message: 'no database connection free; retry shortly',
    detail,
  });
}

/** A new order's id, its 201 body and its row of PLACE_ORDERS_SQL. */
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

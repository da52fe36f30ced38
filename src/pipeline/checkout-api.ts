import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPool, type Pool, type PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { errorMessage } from '../errors.js';
import { nextEvent } from '../events/codec.js';
import { HttpError, JsonServer, readJson, sendJson } from '../http/json-server.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { validateCheckout } from './checkout-validate.js';
import { checkoutRow, placeOrders } from './place-orders.js';
import {
  boundedBy,
  DATABASE_BUDGET_MS,
  DatabaseUnreachable,
  deadlineFromNow,
  failureAnswer,
  isDatabaseUnavailable,
  overloaded,
  queryBy,
  retryAfterHeader,
  withConnection,
} from './database-deadline.js';
import { cancellable, type OrderStatus } from './order-state.js';
import { GroupCommit } from './group-commit.js';
import { appendOutbox, wakerFor, type OutboxWaker, type Queryable } from './outbox.js';

export const MAX_BODY_BYTES = 64 * 1024;
/** Stripe's limit; a longer key is refused, not truncated (two keys must never become one). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** How long opening a new database connection may take before the request gets a 503. */
const OPEN_TIMEOUT_MS = DATABASE_BUDGET_MS;
/**
 * The server ends what the client stopped waiting for (a statement, a transaction left open by a
 * stalled client), so locks and backends are freed too. Startup options: no round trip.
 */
const SESSION_SETTINGS = {
  statement_timeout: String(DATABASE_BUDGET_MS),
  idle_in_transaction_session_timeout: String(4 * DATABASE_BUDGET_MS),
};

/**
 * The checkout API. A checkout validates without any external call and writes the order and its
 * order.placed outbox row in one short transaction — it never calls Kafka, RabbitMQ or a provider.
 * The pool is bounded and a caller waits at most `acquireTimeoutMs` for a connection: under
 * overload the API answers 503 quickly instead of queuing for seconds. Every database wait of a
 * request ends by its deadline (DATABASE_BUDGET_MS): a database that is down or stalled gets a 503
 * with Retry-After, never a hang or the driver's text.
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
      options.pool ??
      createPool(config, {
        max: this.poolMax,
        connectionTimeoutMillis: OPEN_TIMEOUT_MS,
        settings: SESSION_SETTINGS,
      });
    this.waker = wakerFor(this.pool, ctx);
    // A few statements at once (the rest of the pool serves reads and cancels); a batch that did
    // not get a connection is overload for all its callers, not a reason to retry each alone.
    this.places = new GroupCommit((items) => this.writePlaces(items), {
      maxBatch: 64,
      concurrency: Math.max(1, Math.min(4, this.poolMax - 1)),
      retryAlone: (e) => !(e instanceof HttpError),
      refuse: (it) => this.lateForItsTurn(it),
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

  /** Every failure is answered here: a 503 with Retry-After, never the driver's text. */
  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.dispatch(req, res);
    } catch (e) {
      const answer = failureAnswer(e);
      if (answer.status === 500) this.ctx.log('checkout.error', { error: errorMessage(e) });
      if (res.headersSent) res.destroy();
      else sendJson(res, answer.status, answer.body, retryAfterHeader(answer));
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
   * under load is not overload, and must not fail the first requests after a quiet spell) — never
   * past the request's deadline. A pool that cannot connect (database down) is unavailable.
   */
  private async connect(deadline: number): Promise<PoolClient> {
    const opens = this.pool.idleCount === 0 && this.pool.totalCount < this.poolMax;
    const limit = Math.max(
      0,
      Math.min(this.waitLimit(opens || this.opening > 0), deadline - performance.now()),
    );
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
      throw overloaded(`no connection free within ${Math.round(limit)} ms`);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new DatabaseUnreachable('could not open a database connection', { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  private async checkout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!String(req.headers['content-type'] ?? 'application/json').includes('json'))
      throw new HttpError(415, { error: 'unsupported_media_type', expected: 'application/json' });
    const key = req.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' && key.length > 0 ? key : undefined;
    if (idempotencyKey && idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw new HttpError(400, {
        error: 'invalid_idempotency_key',
        message: `Idempotency-Key is at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${idempotencyKey.length})`,
      });
    const body = await readJson(req, MAX_BODY_BYTES);
    const v = validateCheckout(body);
    if (!v.ok) return sendJson(res, 400, { error: 'validation_failed', errors: v.errors });
    const { orderId, response, requestHash, params } = checkoutRow(v.value, idempotencyKey);
    const deadline = deadlineFromNow();
    // Placed with the checkouts that arrive while earlier ones are written, in one statement and
    // transaction (see PLACE_ORDERS_SQL): the 201 is sent only after it committed. A key seen
    // before inserts nothing (ON CONFLICT waits for a concurrent twin to commit): the first
    // answer is replayed if the body is the same, else refused.
    const placed = await this.places.add({ orderId, params, queuedAt: performance.now(), deadline });
    if (placed === 'exists') {
      if (!idempotencyKey) throw new Error(`order ${orderId} was not inserted`);
      const first = await this.firstRequest(idempotencyKey, deadline);
      if (first.requestHash !== null && first.requestHash !== requestHash)
        throw new HttpError(422, {
          error: 'idempotency_key_reused',
          message:
            'this Idempotency-Key was already used with a different request body; send a new key for a new order',
        });
      return sendJson(res, 201, first.response, { 'idempotent-replayed': 'true' });
    }
    sendJson(res, 201, response, { location: `/api/orders/${orderId}` });
  }

  /** The stored answer and body hash of a key (a row from before hashes has none). */
  private async firstRequest(
    key: string,
    deadline: number,
  ): Promise<{ response: unknown; requestHash: string | null }> {
    const client = await this.connect(deadline);
    const r = await withConnection(client, (c) =>
      queryBy<{ response: unknown; request_hash: string | null }>(
        c,
        deadline,
        'SELECT response, request_hash FROM checkout_requests WHERE idempotency_key = $1',
        [key],
      ),
    );
    return { response: r.rows[0]?.response ?? {}, requestHash: r.rows[0]?.request_hash ?? null };
  }

  /**
   * A checkout that waited for its turn longer than a connection may be waited for (overload:
   * answer 503 quickly) is answered so at once, without being written or held until the rest of
   * its group has its answer. A wait during which a connection was being opened is not overload
   * (see connect()).
   */
  private lateForItsTurn(it: Placing): HttpError | undefined {
    const waited = performance.now() - it.queuedAt;
    const opened = this.opening > 0 || this.openedAt >= it.queuedAt;
    return waited > Math.min(this.waitLimit(opened), it.deadline - it.queuedAt)
      ? overloaded(`waited ${Math.round(waited)} ms for a connection`)
      : undefined;
  }

  /**
   * One group of checkouts, placed in one statement, which must answer before the earliest of
   * their deadlines. A database that is away fails the whole group at once (not retried one by
   * one: each would wait again).
   */
  private async writePlaces(live: Placing[]): Promise<('placed' | 'exists' | Error)[]> {
    const deadline = Math.min(...live.map((it) => it.deadline));
    let placed: Set<string>;
    try {
      const client = await this.connect(deadline);
      placed = await withConnection(client, (c) =>
        placeOrders(
          c,
          live.map((it) => it.params),
          deadline,
        ),
      );
    } catch (e) {
      throw isDatabaseUnavailable(e) ? failureAnswer(e) : e;
    }
    if (placed.size > 0) this.waker.poke();
    return live.map((it) => (placed.has(it.orderId) ? 'placed' : 'exists'));
  }

  /** How long a checkout may wait for a connection: longer while one is being opened. */
  private waitLimit(opening: boolean): number {
    return opening ? Math.max(this.acquireTimeoutMs, OPEN_TIMEOUT_MS) : this.acquireTimeoutMs;
  }

  private async getOrder(id: string, res: ServerResponse): Promise<void> {
    const deadline = deadlineFromNow();
    const client = await this.connect(deadline);
    const [o, t] = await withConnection(client, async (c) => [
      await queryBy<Record<string, unknown>>(
        c,
        deadline,
        'SELECT id, status, customer_id, total_cents, currency, tracking_number, failure_reason, created_at, updated_at FROM orders WHERE id = $1',
        [id],
      ),
      await queryBy<Record<string, unknown>>(
        c,
        deadline,
        'SELECT type, source, occurred_at, event_id FROM order_timeline WHERE order_id = $1 ORDER BY occurred_at, recorded_at',
        [id],
      ),
    ]);
    const row = o.rows[0];
    if (!row) return sendJson(res, 404, { error: 'order_not_found', orderId: id });
    sendJson(res, 200, {
      orderId: row.id,
      status: row.status,
      customerId: row.customer_id,
      totalCents: Number(row.total_cents),
      currency: row.currency,
      trackingNumber: row.tracking_number,
      failureReason: row.failure_reason,
      timeline: t.rows.map((r) => ({
        type: r.type,
        source: r.source,
        at: (r.occurred_at as Date).toISOString(),
        eventId: r.event_id,
      })),
    });
  }

  private async cancel(id: string, res: ServerResponse): Promise<void> {
    const deadline = deadlineFromNow();
    const client = await this.connect(deadline);
    const [status, body] = await withConnection(client, async (raw) => {
      const c = boundedBy(raw, deadline);
      await c.query('BEGIN');
      try {
        const answer = await requestCancel(c, id);
        await c.query(answer[0] === 202 ? 'COMMIT' : 'ROLLBACK');
        return answer;
      } catch (e) {
        // A connection that failed or stalled is destroyed instead (see withConnection).
        if (!isDatabaseUnavailable(e)) await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
    sendJson(res, status, body);
  }
}

/** Inside the caller's transaction: records the cancel request of an order; returns the answer. */
async function requestCancel(c: Queryable, id: string): Promise<[number, Record<string, unknown>]> {
  const o = await c.query<{ status: OrderStatus; correlation_id: string }>(
    'SELECT status, correlation_id FROM orders WHERE id = $1 FOR UPDATE',
    [id],
  );
  const row = o.rows[0];
  if (!row) return [404, { error: 'order_not_found', orderId: id }];
  if (!cancellable(row.status)) return [409, { error: 'not_cancellable', orderId: id, status: row.status }];
  // Touch the row so a second cancel in flight serializes behind this one.
  await c.query('UPDATE orders SET updated_at = now() WHERE id = $1', [id]);
  const already = await c.query("SELECT 1 FROM outbox WHERE order_id = $1 AND type = 'order.cancelled'", [
    id,
  ]);
  if ((already.rowCount ?? 0) === 0) {
    await appendOutbox(c, [
      nextEvent(
        { eventId: row.correlation_id, orderId: id, correlationId: row.correlation_id },
        'order.cancelled',
        'checkout',
        { reason: 'customer_request' },
      ),
    ]);
  }
  return [202, { orderId: id, status: 'cancelling' }];
}

interface Placing {
  orderId: string;
  params: unknown[];
  /** performance.now() when the checkout asked for its turn. */
  queuedAt: number;
  /** performance.now() by which its database work must be answered (see DATABASE_BUDGET_MS). */
  deadline: number;
}

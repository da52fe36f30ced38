import { inTransaction, type Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import { callProvider } from '../providers/client.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import type { EventEnvelope } from '../events/types.js';
import { claimInbox, isTransientDbError, shardOf, wakerFor, type OutboxWaker } from './outbox.js';

export interface ShippingOptions {
  groupId?: string;
  /** Labels requested at once: a slow provider (8–12 s) needs many in flight. */
  concurrency?: number;
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
}

/**
 * Shipping: on inventory.reserved, record a label job in the database (with the inbox row, in one
 * transaction) and commit the offset at once; a worker pool leases due jobs, calls the provider
 * with key `label-<orderId>` and emits shipping.created, or shipping.failed once the retries are
 * exhausted. A slow or down provider delays only these jobs: the fetch loop never waits on it,
 * and a worker killed mid-call leaves a lease that expires and the job is taken again.
 */
export class ShippingService implements Service {
  readonly name = 'shipping';
  private readonly consumer: EventConsumer;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private readonly waker: OutboxWaker;
  created = 0;
  failed = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: ShippingOptions = {},
  ) {
    this.waker = wakerFor(pool, ctx);
    this.consumer = new EventConsumer(config, ctx, {
      name: 'shipping',
      groupId: options.groupId ?? 'shipping',
      types: ['inventory.reserved'],
      partitionsConsumedConcurrently: config.topics.partitions,
      retryBatches: true,
      // A batch's jobs, inbox rows and nothing else: one transaction, one statement each.
      handleBatch: (batch) =>
        inTransaction(pool, async (client) => {
          const todo = await claimInbox(client, 'shipping', batch);
          if (todo.length === 0) return;
          const ids = todo.map((e) => e.orderId);
          const found = await client.query<{ n: number }>(
            'SELECT count(DISTINCT id)::int AS n FROM orders WHERE id = ANY($1::uuid[])',
            [ids],
          );
          if ((found.rows[0]?.n ?? 0) < new Set(ids.map((id) => id.toLowerCase())).size)
            throw new Error(`an order of ${ids.join(', ')} was not found`);
          await client.query(
            `INSERT INTO shipments (order_id, status, causation_id, correlation_id, address, items)
             SELECT o.id, 'pending', d.causation_id, d.correlation_id, o.shipping_address, o.items
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS d(order_id, causation_id, correlation_id, n)
             JOIN orders o ON o.id = d.order_id ORDER BY d.n
             ON CONFLICT (order_id) DO NOTHING`,
            [ids, todo.map((e) => e.eventId), todo.map((e) => e.correlationId)],
          );
        }),
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.loop = this.work();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer.stop();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    await this.waker.idle();
  }

  private async work(): Promise<void> {
    const concurrency = this.options.concurrency ?? 64;
    while (!this.stopped) {
      const free = concurrency - this.inFlight.size;
      let leased: Job[] = [];
      if (free > 0) {
        try {
          leased = await this.lease(free);
        } catch (e) {
          this.ctx.log('shipping.lease-error', { error: e instanceof Error ? e.message : String(e) });
        }
      }
      for (const job of leased) {
        const p = this.ship(job).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      if (leased.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async lease(n: number): Promise<Job[]> {
    const leaseMs = (this.options.timeoutMs ?? 15_000) + 5_000;
    const { rows } = await this.pool.query<Job>(
      `UPDATE shipments SET locked_until = now() + ($2 || ' milliseconds')::interval, attempts = attempts + 1, updated_at = now()
       WHERE order_id IN (
         SELECT order_id FROM shipments
         WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING order_id, attempts, causation_id, correlation_id, address, items, locked_until::text AS lease`,
      [n, String(leaseMs)],
    );
    return rows;
  }

  /**
   * One leased job; never rejects. A database error (too many clients, a restart, a pool with no
   * connection free) is not the provider's fault: the job goes back for a prompt retry without
   * spending one of its attempts. If even that fails, its lease expires and it is taken again.
   */
  private async ship(job: Job): Promise<void> {
    try {
      await this.attempt(job);
    } catch (e) {
      const db = isTransientDbError(e);
      const message = e instanceof Error ? e.message : String(e);
      this.ctx.log('shipping.job-error', { orderId: job.order_id, transient: db, error: message });
      const backoff = Math.min(30_000, 1000 * 2 ** Math.max(0, job.attempts - 1));
      await this.pool
        .query(
          `UPDATE shipments SET attempts = greatest(attempts - $3::int, 0), next_attempt_at = now() + ($4 || ' milliseconds')::interval,
             locked_until = NULL, last_error = $5, updated_at = now()
           WHERE order_id = $1 AND status = 'pending' AND locked_until = $2::timestamptz`,
          [job.order_id, job.lease, db ? 1 : 0, String(db ? 1000 : backoff), message.slice(0, 500)],
        )
        .catch(() => undefined);
    }
  }

  private async attempt(job: Job): Promise<void> {
    const cause = { eventId: job.causation_id, orderId: job.order_id, correlationId: job.correlation_id };
    const cancelled = await this.pool.query(
      "SELECT 1 FROM orders WHERE id = $1 AND status IN ('cancelled', 'failed', 'compensating')",
      [job.order_id],
    );
    if ((cancelled.rowCount ?? 0) > 0) {
      await this.pool.query(
        "UPDATE shipments SET status = 'cancelled', locked_until = NULL WHERE order_id = $1",
        [job.order_id],
      );
      return;
    }
    let res: Awaited<ReturnType<typeof callProvider<{ labelId: string; trackingNumber: string }>>>;
    try {
      res = await callProvider<{ labelId: string; trackingNumber: string }>(
        `${this.config.providers.shippingUrl}/labels`,
        { orderId: job.order_id, address: job.address, items: job.items },
        `label-${job.order_id}`,
        this.options.timeoutMs ?? 15_000,
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const retriable = (e as { retriable?: boolean }).retriable !== false;
      if (!retriable || job.attempts >= (this.options.maxAttempts ?? 12)) {
        await this.finish(
          job,
          'failed',
          nextEvent(cause, 'shipping.failed', 'shipping', {
            reason: message.slice(0, 200),
            attempts: job.attempts,
          }),
          null,
          message,
        );
        this.failed++;
        return;
      }
      const backoff = Math.min(
        this.options.maxBackoffMs ?? 30_000,
        (this.options.baseBackoffMs ?? 1000) * 2 ** (job.attempts - 1),
      );
      await this.pool.query(
        `UPDATE shipments SET next_attempt_at = now() + ($2 || ' milliseconds')::interval, locked_until = NULL, last_error = $3, updated_at = now() WHERE order_id = $1`,
        [job.order_id, String(backoff), message.slice(0, 500)],
      );
      return;
    }
    // The label exists now; a database error from here on retries the job, and the provider
    // replays the same label for the key.
    await this.finish(
      job,
      'created',
      nextEvent(cause, 'shipping.created', 'shipping', {
        trackingNumber: res.body.trackingNumber,
        labelId: res.body.labelId,
      }),
      res.body.trackingNumber,
    );
    this.created++;
  }

  /**
   * Marks the job done and appends its event in one statement (one round trip, an implicit
   * transaction), without the trigger's NOTIFY: one wake-up covers many finished jobs.
   */
  private async finish(
    job: Job,
    status: 'created' | 'failed',
    event: EventEnvelope,
    tracking: string | null,
    error?: string,
  ): Promise<void> {
    const r = await this.pool.query(
      `WITH quiet AS (SELECT set_config('orderbus.outbox_notify', 'off', true)),
       done AS (
         UPDATE shipments SET status = $2, tracking_number = $3, last_error = $4, locked_until = NULL, updated_at = now()
         WHERE order_id = $1 AND status = 'pending' RETURNING order_id)
       INSERT INTO outbox (shard, event_id, order_id, type, envelope)
       SELECT $5, $6, done.order_id, $7, $8 FROM done, quiet
       ON CONFLICT (event_id) DO NOTHING`,
      [
        job.order_id,
        status,
        tracking,
        error ?? null,
        shardOf(job.order_id),
        event.eventId,
        event.type,
        JSON.stringify(event),
      ],
    );
    if ((r.rowCount ?? 0) > 0) this.waker.poke();
  }
}

interface Job {
  order_id: string;
  /** The lease's locked_until as PostgreSQL prints it (exact, unlike a JS Date). */
  lease: string;
  attempts: number;
  causation_id: string;
  correlation_id: string;
  address: unknown;
  items: unknown;
}

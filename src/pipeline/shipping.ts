import { inTransaction, type Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { errorMessage } from '../errors.js';
import { nextEvent } from '../events/codec.js';
import { callProvider } from '../providers/client.js';
import { backoffDelay, retriableFlag, type BackoffPolicy } from '../retry.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import type { EventEnvelope } from '../events/types.js';
import { GroupCommit } from './group-commit.js';
import { claimInbox, isTransientDbError, shardOf, wakerFor, type OutboxWaker } from './outbox.js';

export interface ShippingOptions {
  groupId?: string;
  /** Labels requested at once: a slow provider (8–12 s) needs many in flight. */
  concurrency?: number;
  maxAttempts?: number;
  /** When a failed job is due again; default `LABEL_RETRY`. */
  backoff?: BackoffPolicy;
  timeoutMs?: number;
}

/** A failed label job is due again after 1 s, doubling to 30 s (its attempts are counted in the row). */
export const LABEL_RETRY: BackoffPolicy = { initialMs: 1000, maxMs: 30_000 };

/** Pauses of the lease loop while leasing fails (the database away): 200 ms doubling to 5 s. */
const LEASE_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5000, jitter: 0.2 };

/** Order statuses that get no label: a job of such an order is closed, its label voided. */
const CLOSED = `'cancelled', 'failed', 'compensating'`;

/** A job that met a database error (not the provider's fault) is due again this soon. */
const DB_ERROR_RETRY_MS = 1000;

/**
 * Shipping: on inventory.reserved, record a label job in the database (with the inbox row, in one
 * transaction) and commit the offset at once; a worker pool leases due jobs, calls the provider
 * with key `label-<orderId>` and emits shipping.created, or shipping.failed once the retries are
 * exhausted. A slow or down provider delays only these jobs: the fetch loop never waits on it,
 * and a worker killed mid-call leaves a lease that expires and the job is taken again.
 *
 * Round trips per job are few: the lease reads each job's order status with it (a cancelled
 * order's jobs are closed in one statement for the lease), the finishes that come in while one
 * is written share the next statement (GroupCommit), which also tells a job whose order was
 * cancelled during its call (no read of the order per job), and a batch of new jobs, or half the
 * workers free after a lease that took all there were, wakes the lease loop at once instead of at
 * its next 100 ms poll.
 */
export class ShippingService implements Service {
  readonly name = 'shipping';
  private readonly consumer: EventConsumer;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private readonly waker: OutboxWaker;
  private readonly finishes: GroupCommit<Finish, FinishOutcome>;
  /** Set when new jobs were recorded; ends the lease loop's pause early. */
  private kicked = false;
  /**
   * The last lease filled every free slot, so more jobs may be due: the loop is woken once half the
   * slots are free again rather than at its next poll.
   */
  private saturated = false;
  private wake: (() => void) | undefined;
  created = 0;
  failed = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: ShippingOptions = {},
  ) {
    this.waker = wakerFor(pool, ctx);
    this.finishes = new GroupCommit<Finish, FinishOutcome>((items) => this.writeFinishes(items));
    this.consumer = new EventConsumer(config, ctx, {
      name: 'shipping',
      groupId: options.groupId ?? 'shipping',
      types: ['inventory.reserved'],
      partitionsConsumedConcurrently: config.topics.partitions,
      retryBatches: true,
      mergePartitions: true,
      // A batch's jobs, inbox rows and nothing else: one transaction, one statement each.
      handleBatch: async (batch) => {
        await inTransaction(pool, async (client) => {
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
        });
        this.kicked = true;
        this.wake?.();
      },
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.loop = this.work();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.consumer.stop();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    await this.finishes.idle();
    await this.waker.idle();
  }

  private async work(): Promise<void> {
    const concurrency = this.options.concurrency ?? 64;
    // Leases that failed in a row (the database away): the loop polls with backoff meanwhile.
    let leaseFailures = 0;
    while (!this.stopped) {
      const free = concurrency - this.inFlight.size;
      let leased: Job[] = [];
      this.kicked = false;
      if (free > 0) {
        try {
          leased = await this.lease(free);
          this.saturated = leased.length >= free;
          const cancelled = leased.filter((j) => j.cancelled);
          if (cancelled.length > 0) {
            leased = leased.filter((j) => !j.cancelled);
            await this.cancel(cancelled);
          }
          leaseFailures = 0;
        } catch (e) {
          leaseFailures++;
          if (leaseFailures % 10 === 1)
            this.ctx.log('shipping.lease-error', { attempt: leaseFailures, error: errorMessage(e) });
        }
      }
      for (const job of leased) {
        const p = this.ship(job).finally(() => {
          this.inFlight.delete(p);
          if (this.saturated && this.inFlight.size <= concurrency / 2) {
            this.saturated = false;
            this.wake?.();
          }
        });
        this.inFlight.add(p);
      }
      // A lease that left slots free took every due job: nothing is asked again until new jobs
      // are recorded, half the workers are free after a full lease, or the poll comes round.
      if (!this.kicked && !this.stopped)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, leaseFailures > 0 ? backoffDelay(leaseFailures, LEASE_RETRY) : 100);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      this.wake = undefined;
    }
  }

  /** Leases up to n due jobs, each with whether its order was cancelled (or failed) meanwhile. */
  private async lease(n: number): Promise<Job[]> {
    const leaseMs = (this.options.timeoutMs ?? 15_000) + 5_000;
    const { rows } = await this.pool.query<Job>(
      `WITH leased AS (
         UPDATE shipments SET locked_until = now() + ($2 || ' milliseconds')::interval, attempts = attempts + 1, updated_at = now()
         WHERE order_id IN (
           SELECT order_id FROM shipments
           WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING order_id, attempts, causation_id, correlation_id, address, items, locked_until, tracking_number)
       SELECT l.order_id, l.attempts, l.causation_id, l.correlation_id, l.address, l.items, l.locked_until::text AS lease,
         l.tracking_number IS NOT NULL AS labelled,
         coalesce(o.status IN (${CLOSED}), false) AS cancelled
       FROM leased l LEFT JOIN orders o ON o.id = l.order_id`,
      [n, String(leaseMs)],
    );
    return rows;
  }

  /**
   * Closes the leased jobs of cancelled orders. A job whose label was made while its order was
   * cancelled (a tracking number on a pending job, see writeFinishes) gets that label voided first. A failure leaves their
   * leases to expire.
   */
  private async cancel(jobs: Job[]): Promise<void> {
    await Promise.all(jobs.filter((j) => j.labelled).map((j) => this.voidLabel(j.order_id, null)));
    await this.close(jobs.map((j) => j.order_id));
  }

  /** Closes pending jobs without a label. */
  private async close(orderIds: string[]): Promise<void> {
    await this.pool.query(
      `UPDATE shipments SET status = 'cancelled', locked_until = NULL, updated_at = now()
       WHERE order_id = ANY($1::uuid[]) AND status = 'pending'`,
      [orderIds],
    );
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
      const backoff = db ? DB_ERROR_RETRY_MS : this.backoff(job);
      await this.pool
        .query(
          `UPDATE shipments SET attempts = greatest(attempts - $3::int, 0), next_attempt_at = now() + ($4 || ' milliseconds')::interval,
             locked_until = NULL, last_error = $5, updated_at = now()
           WHERE order_id = $1 AND status = 'pending' AND locked_until = $2::timestamptz`,
          [job.order_id, job.lease, db ? 1 : 0, String(backoff), message.slice(0, 500)],
        )
        .catch(() => undefined);
    }
  }

  private async attempt(job: Job): Promise<void> {
    const cause = { eventId: job.causation_id, orderId: job.order_id, correlationId: job.correlation_id };
    let res: Awaited<ReturnType<typeof callProvider<{ labelId?: string; trackingNumber?: string }>>>;
    try {
      res = await callProvider<{ labelId?: string; trackingNumber?: string }>(
        `${this.config.providers.shippingUrl}/labels`,
        { orderId: job.order_id, address: job.address, items: job.items },
        `label-${job.order_id}`,
        this.options.timeoutMs ?? 15_000,
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // Only an error that says so (a 4xx from the provider) is final.
      const retriable = retriableFlag(e) !== false;
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
      const backoff = this.backoff(job);
      await this.pool.query(
        `UPDATE shipments SET next_attempt_at = now() + ($2 || ' milliseconds')::interval, locked_until = NULL, last_error = $3, updated_at = now() WHERE order_id = $1`,
        [job.order_id, String(backoff), message.slice(0, 500)],
      );
      return;
    }
    // The label exists now; a database error from here on retries the job, and the provider
    // replays the same label for the key. An order cancelled during the call gets no label: the
    // finish's statement sees it, keeps the job pending, and the label is voided and the job
    // closed here.
    const finished = await this.finish(
      job,
      'created',
      // Strings always (the event's schema requires them), whatever the provider answered.
      nextEvent(cause, 'shipping.created', 'shipping', {
        trackingNumber: res.body.trackingNumber ?? '',
        labelId: res.body.labelId ?? '',
      }),
      res.body.trackingNumber ?? null,
    );
    if (finished === 'held') {
      await this.voidLabel(job.order_id, res.body.labelId ?? null);
      await this.close([job.order_id]);
      return;
    }
    this.created++;
  }

  /** Voids the order's label at the provider (idempotent by key; no label there is no error). */
  private async voidLabel(orderId: string, labelId: string | null): Promise<void> {
    try {
      await callProvider(
        `${this.config.providers.shippingUrl}/labels/void`,
        { orderId, labelId },
        `void-${orderId}`,
      );
    } catch (e) {
      if ((e as { status?: unknown }).status !== 404) throw e;
    }
    this.ctx.log('shipping.label-voided', { orderId, labelId });
  }

  /** The pause before a failed job's next attempt, by the attempts it has had. */
  private backoff(job: Job): number {
    return backoffDelay(job.attempts, this.options.backoff ?? LABEL_RETRY);
  }

  /**
   * Marks the job done and appends its event, in the next group statement (see writeFinishes);
   * 'held' when its order was closed meanwhile and the job was kept pending with its label.
   */
  private finish(
    job: Job,
    status: 'created' | 'failed',
    event: EventEnvelope,
    tracking: string | null,
    error?: string,
  ): Promise<FinishOutcome> {
    return this.finishes.add({ orderId: job.order_id, status, event, tracking, error: error ?? null });
  }

  /**
   * Marks jobs done and appends their events in one statement (one round trip, an implicit
   * transaction), without the trigger's NOTIFY: one wake-up covers the batch. A job that is no
   * longer pending (finished by an earlier lease holder) appends nothing; so does a second finish
   * of one job in a batch. Nor does a label whose order was cancelled during the call: its job keeps
   * the tracking number and stays pending ('held'); attempt voids the label and closes the job, or,
   * should that fail, the next lease does once the lease has expired.
   */
  private async writeFinishes(items: Finish[]): Promise<FinishOutcome[]> {
    const seen = new Set<string>();
    const batch = items.filter((f) => !seen.has(f.orderId) && seen.add(f.orderId));
    const r = await this.pool.query<{ inserted: number; held: string[] }>(
      `WITH quiet AS (SELECT set_config('orderbus.outbox_notify', 'off', true)),
       d AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::jsonb[])
           WITH ORDINALITY AS d(order_id, status, tracking, error, shard, event_id, type, envelope, n)),
       done AS (
         UPDATE shipments s SET status = d.status, tracking_number = d.tracking, last_error = d.error, locked_until = NULL, updated_at = now()
         FROM d WHERE s.order_id = d.order_id AND s.status = 'pending'
           AND NOT (d.status = 'created' AND EXISTS (SELECT 1 FROM orders o WHERE o.id = d.order_id AND o.status IN (${CLOSED})))
         RETURNING s.order_id),
       held AS (
         UPDATE shipments s SET tracking_number = d.tracking, last_error = 'label made after the order was cancelled', updated_at = now()
         FROM d WHERE s.order_id = d.order_id AND s.status = 'pending' AND d.status = 'created'
           AND EXISTS (SELECT 1 FROM orders o WHERE o.id = d.order_id AND o.status IN (${CLOSED}))
         RETURNING s.order_id),
       appended AS (
         INSERT INTO outbox (shard, event_id, order_id, type, envelope)
         SELECT d.shard, d.event_id, d.order_id, d.type, d.envelope
         FROM d JOIN done ON done.order_id = d.order_id CROSS JOIN quiet
         ORDER BY d.n
         ON CONFLICT (event_id) DO NOTHING
         RETURNING 1)
       SELECT (SELECT count(*) FROM appended)::int AS inserted, ARRAY(SELECT order_id::text FROM held) AS held`,
      [
        batch.map((f) => f.orderId),
        batch.map((f) => f.status),
        batch.map((f) => f.tracking),
        batch.map((f) => f.error),
        batch.map((f) => shardOf(f.orderId)),
        batch.map((f) => f.event.eventId),
        batch.map((f) => f.event.type),
        batch.map((f) => JSON.stringify(f.event)),
      ],
    );
    const row = r.rows[0];
    if ((row?.inserted ?? 0) > 0) this.waker.poke();
    const held = new Set((row?.held ?? []).map((id) => id.toLowerCase()));
    return items.map((f) => (held.has(f.orderId.toLowerCase()) ? 'held' : 'done'));
  }
}

/** A finish written ('done': or found already finished), or kept pending for a closed order. */
type FinishOutcome = 'done' | 'held';

interface Finish {
  orderId: string;
  status: 'created' | 'failed';
  event: EventEnvelope;
  tracking: string | null;
  error: string | null;
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
  /** The order was cancelled or failed after the job was recorded: no label. */
  cancelled: boolean;
  /** A label was made for it after its order was cancelled: to be voided. */
  labelled: boolean;
}

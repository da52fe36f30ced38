import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import { callProvider } from '../providers/client.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import { appendOutbox, processOnce } from './outbox.js';

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
  created = 0;
  failed = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: ShippingOptions = {},
  ) {
    this.consumer = new EventConsumer(config, ctx, {
      name: 'shipping',
      groupId: options.groupId ?? 'shipping',
      types: ['inventory.reserved'],
      partitionsConsumedConcurrently: 6,
      handle: async (event) => {
        const client = await pool.connect();
        try {
          await processOnce(client, 'shipping', event.eventId, async () => {
            const o = await client.query<{ shipping_address: unknown; items: unknown }>(
              'SELECT shipping_address, items FROM orders WHERE id = $1',
              [event.orderId],
            );
            const row = o.rows[0];
            if (!row) throw new Error(`order ${event.orderId} not found`);
            await client.query(
              `INSERT INTO shipments (order_id, status, causation_id, correlation_id, address, items) VALUES ($1, 'pending', $2, $3, $4, $5)
               ON CONFLICT (order_id) DO NOTHING`,
              [
                event.orderId,
                event.eventId,
                event.correlationId,
                JSON.stringify(row.shipping_address),
                JSON.stringify(row.items),
              ],
            );
          });
        } finally {
          client.release();
        }
      },
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
        // An error here (e.g. the database refusing connections) must not kill the worker: the
        // job's lease expires and another attempt picks it up.
        const p = this.ship(job)
          .catch(() => undefined)
          .finally(() => this.inFlight.delete(p));
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
       RETURNING order_id, attempts, causation_id, correlation_id, address, items`,
      [n, String(leaseMs)],
    );
    return rows;
  }

  private async ship(job: Job): Promise<void> {
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
    try {
      const res = await callProvider<{ labelId: string; trackingNumber: string }>(
        `${this.config.providers.shippingUrl}/labels`,
        { orderId: job.order_id, address: job.address, items: job.items },
        `label-${job.order_id}`,
        this.options.timeoutMs ?? 15_000,
      );
      await this.finish(
        job,
        'created',
        [
          nextEvent(cause, 'shipping.created', 'shipping', {
            trackingNumber: res.body.trackingNumber,
            labelId: res.body.labelId,
          }),
        ],
        res.body.trackingNumber,
      );
      this.created++;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const retriable = (e as { retriable?: boolean }).retriable !== false;
      if (!retriable || job.attempts >= (this.options.maxAttempts ?? 12)) {
        await this.finish(
          job,
          'failed',
          [
            nextEvent(cause, 'shipping.failed', 'shipping', {
              reason: message.slice(0, 200),
              attempts: job.attempts,
            }),
          ],
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
    }
  }

  private async finish(
    job: Job,
    status: 'created' | 'failed',
    events: ReturnType<typeof nextEvent>[],
    tracking: string | null,
    error?: string,
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await client.query(
        `UPDATE shipments SET status = $2, tracking_number = $3, last_error = $4, locked_until = NULL, updated_at = now() WHERE order_id = $1 AND status = 'pending'`,
        [job.order_id, status, tracking, error ?? null],
      );
      if (r.rowCount === 1) await appendOutbox(client, events);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}

interface Job {
  order_id: string;
  attempts: number;
  causation_id: string;
  correlation_id: string;
  address: unknown;
  items: unknown;
}

import { inTransaction, type Pool, type PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { callProvider, ProviderCallError } from '../providers/client.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import { releaseReservation } from './inventory.js';
import { transition, type OrderStatus } from './order-state.js';
import { appendOutbox, claimInbox, wakerFor, type OutboxWaker } from './outbox.js';

/**
 * The saga: applies every event to the order's state machine, records the timeline, and runs
 * compensations in reverse (release, then refund, then order.failed). Each compensation is
 * idempotent: the refund by provider key `refund-<orderId>`, the release by the reservation's
 * status, the events by the inbox. A sweeper cancels orders stuck in a live state past a deadline.
 */
export class SagaService implements Service {
  readonly name = 'saga';
  private readonly consumer: EventConsumer;
  private sweeper: NodeJS.Timeout | undefined;
  rejected = 0;
  private readonly waker: OutboxWaker;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: { groupId?: string; stuckAfterMs?: number; sweepEveryMs?: number } = {},
  ) {
    this.waker = wakerFor(pool, ctx);
    this.consumer = new EventConsumer(config, ctx, {
      name: 'saga',
      groupId: options.groupId ?? 'saga',
      isTransient: (e) => e instanceof ProviderCallError && e.retriable,
      partitionsConsumedConcurrently: config.topics.partitions,
      retryBatches: true,
      mergePartitions: true,
      handleBatch: (batch) => this.applyBatch(batch),
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.sweeper = setInterval(
      () => void this.sweep().catch((e: unknown) => this.ctx.log('saga.sweep-error', { error: String(e) })),
      this.options.sweepEveryMs ?? 30_000,
    );
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.consumer.stop();
    await this.waker.idle();
  }

  /**
   * A fetched batch in one transaction. The refund is the one compensation that calls out: when
   * the batch needs refunds it has not got yet, the transaction is rolled back, the refunds are
   * made with no connection held (key `refund-<orderId>`: a retry replays one), and the batch runs
   * again with them.
   */
  private async applyBatch(batch: EventEnvelope[]): Promise<void> {
    const refunds = new Map<string, { refundId: string }>();
    for (;;) {
      try {
        const { rejected, appended } = await inTransaction(this.pool, (client) =>
          this.applyInTx(client, batch, refunds),
        );
        this.rejected += rejected;
        if (appended > 0) this.waker.poke();
        return;
      } catch (e) {
        if (!(e instanceof RefundsNeeded)) throw e;
        const missing = e.refunds.filter((r) => !refunds.has(r.orderId));
        if (missing.length === 0) throw new Error('refunds were made but the batch still asks for them');
        for (const r of missing) {
          const res = await callProvider<{ refundId?: string }>(
            `${this.config.providers.paymentUrl}/refunds`,
            { orderId: r.orderId, amountCents: r.amountCents },
            `refund-${r.orderId}`,
          );
          refunds.set(r.orderId, { refundId: res.body.refundId ?? '' });
        }
      }
    }
  }

  /** Counts rejected transitions and appended events; throws RefundsNeeded when a refund is missing. */
  private async applyInTx(
    client: PoolClient,
    batch: EventEnvelope[],
    refunds: Map<string, { refundId: string }>,
  ): Promise<{ rejected: number; appended: number }> {
    const todo = await claimInbox(client, 'saga', batch);
    if (todo.length === 0) return { rejected: 0, appended: 0 };
    await client.query(
      `INSERT INTO order_timeline (order_id, event_id, type, source, occurred_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) ON CONFLICT DO NOTHING`,
      [
        todo.map((e) => e.orderId),
        todo.map((e) => e.eventId),
        todo.map((e) => e.type),
        todo.map((e) => e.source),
        todo.map((e) => e.occurredAt),
      ],
    );
    // Locked in id order: two batches never wait on each other in a cycle.
    const locked = await client.query<{ id: string; status: OrderStatus; total_cents: string }>(
      'SELECT id, status, total_cents FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
      [[...new Set(todo.map((e) => e.orderId))]],
    );
    const orders = new Map(
      locked.rows.map((r) => [r.id.toLowerCase(), { status: r.status, total: Number(r.total_cents) }]),
    );
    const changed = new Map<string, { orderId: string; status: OrderStatus; tracking: string | null }>();
    const rejected: EventEnvelope[] = [];
    const rejectedFrom: OrderStatus[] = [];
    const events: EventEnvelope[] = [];
    const needed: { orderId: string; amountCents: number }[] = [];
    for (const event of todo) {
      const key = event.orderId.toLowerCase();
      const order = orders.get(key);
      if (!order) throw new Error(`order ${event.orderId} not found`);
      const tr = transition(order.status, event.type);
      if (!tr) {
        rejected.push(event);
        rejectedFrom.push(order.status);
        this.ctx.log('saga.rejected-transition', {
          orderId: event.orderId,
          from: order.status,
          event: event.type,
        });
        continue;
      }
      if (tr.compensate.includes('refund') && !refunds.has(event.orderId))
        needed.push({ orderId: event.orderId, amountCents: order.total });
      order.status = tr.to;
      // Once a refund is missing this attempt is rolled back: only follow the state machine on to
      // collect every refund the batch needs.
      if (needed.length > 0) continue;
      events.push(...(await this.compensate(client, event, tr.compensate, refunds.get(event.orderId))));
      const tracking =
        event.type === 'shipping.created'
          ? String((event.data as { trackingNumber?: string }).trackingNumber ?? '')
          : null;
      changed.set(key, {
        orderId: event.orderId,
        status: tr.to,
        tracking: tracking ?? changed.get(key)?.tracking ?? null,
      });
    }
    if (needed.length > 0) throw new RefundsNeeded(needed);
    const rows = [...changed.values()];
    if (rows.length > 0)
      await client.query(
        `UPDATE orders SET status = d.status, tracking_number = COALESCE(d.tracking, orders.tracking_number), updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS d(id, status, tracking) WHERE orders.id = d.id`,
        [rows.map((r) => r.orderId), rows.map((r) => r.status), rows.map((r) => r.tracking)],
      );
    if (rejected.length > 0)
      await client.query(
        `INSERT INTO rejected_transitions (order_id, event_id, from_status, event_type)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])`,
        [
          rejected.map((e) => e.orderId),
          rejected.map((e) => e.eventId),
          rejectedFrom,
          rejected.map((e) => e.type),
        ],
      );
    await appendOutbox(client, events, { quiet: true });
    return { rejected: rejected.length, appended: events.length };
  }

  private async compensate(
    client: PoolClient,
    event: EventEnvelope,
    steps: string[],
    refund: { refundId: string } | undefined,
  ): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    if (steps.includes('release')) {
      const items = await releaseReservation(client, event.orderId);
      if (items) events.push(nextEvent(event, 'inventory.released', 'saga', { items }));
    }
    if (steps.includes('refund') && refund) {
      const p = await client.query<{ amount_cents: string }>(
        "UPDATE payments SET status = 'refunded', refund_id = $2 WHERE order_id = $1 AND status <> 'refunded' RETURNING amount_cents",
        [event.orderId, refund.refundId],
      );
      const amount = Number(p.rows[0]?.amount_cents ?? 0);
      if ((p.rowCount ?? 0) > 0)
        events.push(
          nextEvent(event, 'payment.refunded', 'saga', { refundId: refund.refundId, amountCents: amount }),
        );
    }
    if (steps.includes('fail')) {
      const reason = String((event.data as { reason?: string }).reason ?? event.type);
      await client.query('UPDATE orders SET failure_reason = $2 WHERE id = $1', [
        event.orderId,
        `${event.type}: ${reason}`,
      ]);
      events.push(nextEvent(event, 'order.failed', 'saga', { reason: `${event.type}: ${reason}` }));
    }
    return events;
  }

  /** Orders stuck in a live state past the deadline are cancelled (and so compensated). */
  async sweep(): Promise<number> {
    const stuckMs = this.options.stuckAfterMs ?? 10 * 60_000;
    const { rows } = await this.pool.query<{ id: string; correlation_id: string }>(
      `SELECT id, correlation_id FROM orders WHERE status IN ('pending', 'paid', 'reserved') AND updated_at < now() - ($1 || ' milliseconds')::interval LIMIT 500`,
      [String(stuckMs)],
    );
    for (const o of rows) {
      await inTransaction(this.pool, async (client) => {
        const r = await client.query(
          "UPDATE orders SET updated_at = now() WHERE id = $1 AND status IN ('pending', 'paid', 'reserved') RETURNING id",
          [o.id],
        );
        if (r.rowCount === 1) {
          await appendOutbox(client, [
            nextEvent(
              { eventId: o.id, orderId: o.id, correlationId: o.correlation_id },
              'order.cancelled',
              'saga-sweeper',
              { reason: `stuck for more than ${Math.round(stuckMs / 1000)} s` },
            ),
          ]);
        }
      });
    }
    return rows.length;
  }
}

/** Thrown inside the batch transaction (so it rolls back) when refunds must be made first. */
class RefundsNeeded extends Error {
  constructor(readonly refunds: { orderId: string; amountCents: number }[]) {
    super(`${refunds.length} refund(s) to make first`);
  }
}

import type { Pool, PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { callProvider, ProviderCallError } from '../providers/client.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import { releaseReservation } from './inventory.js';
import { transition, type OrderStatus } from './order-state.js';
import { alreadyProcessed, appendOutbox, processOnce } from './outbox.js';

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

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: { groupId?: string; stuckAfterMs?: number; sweepEveryMs?: number } = {},
  ) {
    this.consumer = new EventConsumer(config, ctx, {
      name: 'saga',
      groupId: options.groupId ?? 'saga',
      isTransient: (e) => e instanceof ProviderCallError && e.retriable,
      partitionsConsumedConcurrently: 6,
      handle: (event) => this.apply(event),
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
  }

  private async apply(event: EventEnvelope): Promise<void> {
    const client = await this.pool.connect();
    try {
      if (await alreadyProcessed(client, 'saga', event.eventId)) return;
      const current = await client.query<{ status: OrderStatus; total_cents: string }>(
        'SELECT status, total_cents FROM orders WHERE id = $1',
        [event.orderId],
      );
      const order = current.rows[0];
      if (!order) throw new Error(`order ${event.orderId} not found`);
      const t = transition(order.status, event.type);
      // The refund is the one compensation that calls out; do it before the transaction (the
      // provider key makes a retry replay it), so the transaction only records it.
      let refund: { refundId: string } | undefined;
      if (t?.compensate.includes('refund')) {
        const res = await callProvider<{ refundId: string }>(
          `${this.config.providers.paymentUrl}/refunds`,
          { orderId: event.orderId, amountCents: Number(order.total_cents) },
          `refund-${event.orderId}`,
        );
        refund = res.body;
      }
      await processOnce(client, 'saga', event.eventId, async () => {
        await client.query(
          'INSERT INTO order_timeline (order_id, event_id, type, source, occurred_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
          [event.orderId, event.eventId, event.type, event.source, event.occurredAt],
        );
        const locked = await client.query<{ status: OrderStatus }>(
          'SELECT status FROM orders WHERE id = $1 FOR UPDATE',
          [event.orderId],
        );
        const from = locked.rows[0]?.status ?? order.status;
        const tr = transition(from, event.type);
        if (!tr) {
          this.rejected++;
          await client.query(
            'INSERT INTO rejected_transitions (order_id, event_id, from_status, event_type) VALUES ($1, $2, $3, $4)',
            [event.orderId, event.eventId, from, event.type],
          );
          this.ctx.log('saga.rejected-transition', { orderId: event.orderId, from, event: event.type });
          return;
        }
        await this.compensate(client, event, tr.compensate, refund);
        const tracking =
          event.type === 'shipping.created'
            ? String((event.data as { trackingNumber?: string }).trackingNumber ?? '')
            : null;
        await client.query(
          'UPDATE orders SET status = $2, tracking_number = COALESCE($3, tracking_number), updated_at = now() WHERE id = $1',
          [event.orderId, tr.to, tracking],
        );
      });
    } finally {
      client.release();
    }
  }

  private async compensate(
    client: PoolClient,
    event: EventEnvelope,
    steps: string[],
    refund: { refundId: string } | undefined,
  ): Promise<void> {
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
    await appendOutbox(client, events);
  }

  /** Orders stuck in a live state past the deadline are cancelled (and so compensated). */
  async sweep(): Promise<number> {
    const stuckMs = this.options.stuckAfterMs ?? 10 * 60_000;
    const { rows } = await this.pool.query<{ id: string; correlation_id: string }>(
      `SELECT id, correlation_id FROM orders WHERE status IN ('pending', 'paid', 'reserved') AND updated_at < now() - ($1 || ' milliseconds')::interval LIMIT 500`,
      [String(stuckMs)],
    );
    for (const o of rows) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
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
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    }
    return rows.length;
  }
}

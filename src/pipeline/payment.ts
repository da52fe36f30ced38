import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { callProvider, ProviderCallError } from '../providers/client.js';
import type { ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import { alreadyProcessed, appendOutbox, processOnce } from './outbox.js';

/**
 * Payment: on order.placed, charge with idempotency key `payment-<orderId>` and emit
 * payment.captured or payment.failed. Exactly-once in effect without Kafka transactions: the
 * provider deduplicates the charge by key (a retry replays the first answer), and the inbox row,
 * the payment record and the next event's outbox row commit in one PostgreSQL transaction. So a
 * redelivery, a rebalance or a kill -9 between any two lines charges once and emits once. (A
 * Kafka transaction would need one transactional id per input partition in kafkajs and still
 * could not cover the provider call; the database already holds the order.)
 */
export function paymentService(
  config: OrderbusConfig,
  pool: Pool,
  ctx: Pick<ServiceContext, 'log'>,
  groupId = 'payment',
): EventConsumer {
  return new EventConsumer(config, ctx, {
    name: 'payment',
    groupId,
    types: ['order.placed'],
    isTransient: (e) => e instanceof ProviderCallError && e.retriable,
    partitionsConsumedConcurrently: 6,
    handle: async (event) => {
      const client = await pool.connect();
      try {
        if (await alreadyProcessed(client, 'payment', event.eventId)) return;
        const data = event.data as { totalCents: number; currency: string; paymentMethod: unknown };
        const res = await callProvider<{ chargeId: string | null; status: string; reason?: string }>(
          `${config.providers.paymentUrl}/charges`,
          {
            orderId: event.orderId,
            amountCents: data.totalCents,
            currency: data.currency,
            method: data.paymentMethod,
          },
          `payment-${event.orderId}`,
        );
        const captured = res.status === 201 && res.body.status === 'captured' && res.body.chargeId;
        await processOnce(client, 'payment', event.eventId, async () => {
          await client.query(
            'INSERT INTO payments (order_id, charge_id, status, amount_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING',
            [event.orderId, res.body.chargeId, captured ? 'captured' : 'declined', data.totalCents],
          );
          const next: EventEnvelope = captured
            ? nextEvent(event, 'payment.captured', 'payment', {
                chargeId: res.body.chargeId ?? '',
                amountCents: data.totalCents,
              })
            : nextEvent(event, 'payment.failed', 'payment', { reason: res.body.reason ?? res.body.status });
          await appendOutbox(client, [next]);
        });
      } finally {
        client.release();
      }
    },
  });
}

import { withClient, type Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import type { EventEnvelope, EventType } from '../events/types.js';
import { columnsOf } from './columns.js';
import { EventConsumer, type ConsumerService } from './event-consumer.js';
import type { OrderItem } from './inventory.js';
import { processOnce } from './outbox.js';
import type { ServiceContext } from '../runtime/service.js';

/**
 * Fan-out groups reading the same events, each at its own speed: a slow one lags only itself.
 */
type Query = (sql: string, params: unknown[]) => Promise<unknown>;

/**
 * A group whose handler runs once per event (`processOnce`: the inbox row and the handler's
 * writes commit together), on a connection of its own.
 */
function onceService(
  name: string,
  types: EventType[] | undefined,
  handle: (event: EventEnvelope, q: Query) => Promise<void>,
): ConsumerService {
  return (config, pool, ctx, groupId = name) =>
    new EventConsumer(config, ctx, {
      name,
      groupId,
      ...(types ? { types } : {}),
      handle: (event) => once(pool, name, event, (q) => handle(event, q)),
    });
}

async function once(pool: Pool, consumer: string, event: EventEnvelope, fn: (q: Query) => Promise<void>) {
  await withClient(pool, (client) =>
    processOnce(client, consumer, event.eventId, () => fn((sql, params) => client.query(sql, params))),
  );
}

/** Loyalty: points per paid order (1 point per whole currency unit). */
export const loyaltyService = onceService('loyalty', ['payment.captured'], async (event, q) => {
  const amount = Number((event.data as { amountCents?: number }).amountCents ?? 0);
  await q(
    `INSERT INTO loyalty_points (customer_id, points) SELECT customer_id, $2 FROM orders WHERE id = $1
     ON CONFLICT (customer_id) DO UPDATE SET points = loyalty_points.points + EXCLUDED.points`,
    [event.orderId, Math.floor(amount / 100)],
  );
});

/** Fraud audit: an append-only copy of every event. */
export const fraudAuditService = onceService('fraud-audit', undefined, async (event, q) => {
  await q('INSERT INTO fraud_audit (event_id, order_id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    event.eventId,
    event.orderId,
    event.type,
  ]);
});

/** Recommendations: purchases per SKU from placed orders. */
export const recommendationsService = onceService('recommendations', ['order.placed'], async (event, q) => {
  for (const item of (event.data as { items: OrderItem[] }).items) {
    await q(
      'INSERT INTO recommendations (sku, purchases) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET purchases = recommendations.purchases + EXCLUDED.purchases',
      [item.sku, item.quantity],
    );
  }
});

/** Warehouse: batched ingestion (eachBatch), about 200 ms per batch like a bulk loader. */
export function warehouseService(
  config: OrderbusConfig,
  pool: Pool,
  ctx: Pick<ServiceContext, 'log'>,
  options: { groupId?: string; batchDelayMs?: number } = {},
): EventConsumer {
  return new EventConsumer(config, ctx, {
    name: 'warehouse',
    groupId: options.groupId ?? 'warehouse',
    partitionsConsumedConcurrently: 1,
    handleBatch: async (events) => {
      await new Promise((r) => setTimeout(r, options.batchDelayMs ?? 200));
      // Idempotent by event id: a redelivered batch inserts nothing twice.
      await pool.query(
        `INSERT INTO warehouse_events (event_id, order_id, type, batch_at)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
        columnsOf(events, (e) => [e.eventId, e.orderId, e.type, new Date().toISOString()]),
      );
    },
  });
}

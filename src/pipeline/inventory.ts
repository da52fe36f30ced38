import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import type { ServiceContext } from '../runtime/service.js';
import { EventConsumer } from './event-consumer.js';
import { appendOutbox, processOnce } from './outbox.js';

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** Inventory: on payment.captured, reserve every item (one reservation per order) or emit inventory.failed. */
export function inventoryService(
  config: OrderbusConfig,
  pool: Pool,
  ctx: Pick<ServiceContext, 'log'>,
  groupId = 'inventory',
): EventConsumer {
  return new EventConsumer(config, ctx, {
    name: 'inventory',
    groupId,
    types: ['payment.captured'],
    partitionsConsumedConcurrently: 6,
    handle: async (event) => {
      const client = await pool.connect();
      try {
        await processOnce(client, 'inventory', event.eventId, async () => {
          const order = await client.query<{ items: OrderItem[]; status: string }>(
            'SELECT items, status FROM orders WHERE id = $1',
            [event.orderId],
          );
          const items = order.rows[0]?.items;
          if (!items) throw new Error(`order ${event.orderId} not found`);
          const existing = await client.query('SELECT 1 FROM reservations WHERE order_id = $1', [
            event.orderId,
          ]);
          if ((existing.rowCount ?? 0) > 0) return;
          await client.query('SAVEPOINT reserve');
          let missing: string | undefined;
          for (const item of [...items].sort((a, b) => a.sku.localeCompare(b.sku))) {
            const r = await client.query(
              'UPDATE stock SET available = available - $2 WHERE sku = $1 AND available >= $2',
              [item.sku, item.quantity],
            );
            if (r.rowCount === 0) {
              missing = item.sku;
              break;
            }
          }
          if (missing) {
            await client.query('ROLLBACK TO SAVEPOINT reserve');
            await appendOutbox(client, [
              nextEvent(event, 'inventory.failed', 'inventory', { reason: 'out_of_stock', sku: missing }),
            ]);
            return;
          }
          await client.query('INSERT INTO reservations (order_id, items, status) VALUES ($1, $2, $3)', [
            event.orderId,
            JSON.stringify(items),
            'reserved',
          ]);
          await appendOutbox(client, [nextEvent(event, 'inventory.reserved', 'inventory', { items })]);
        });
      } finally {
        client.release();
      }
    },
  });
}

/** Returns a reservation's stock (compensation); idempotent through the reservation's status. */
export async function releaseReservation(
  client: import('../adapters/postgres.js').PoolClient,
  orderId: string,
): Promise<OrderItem[] | null> {
  const r = await client.query<{ items: OrderItem[] }>(
    "UPDATE reservations SET status = 'released' WHERE order_id = $1 AND status = 'reserved' RETURNING items",
    [orderId],
  );
  const items = r.rows[0]?.items;
  if (!items) return null;
  for (const item of items)
    await client.query('UPDATE stock SET available = available + $2 WHERE sku = $1', [
      item.sku,
      item.quantity,
    ]);
  return items;
}

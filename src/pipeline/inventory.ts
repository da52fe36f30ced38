import { inTransaction, type PoolClient } from '../adapters/postgres.js';
import { nextEvent } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { EventConsumer, type ConsumerService } from './event-consumer.js';
import { appendOutbox, claimInbox, wakerFor } from './outbox.js';

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/**
 * Inventory: on payment.captured, reserve every item (one reservation per order) or emit
 * inventory.failed. A fetched batch is one transaction: the stock rows it needs are locked in SKU
 * order up front (so concurrent batches cannot deadlock), the orders are reserved one after another
 * in the batch's order in memory, and the stock, reservation, inbox and outbox writes are one
 * statement each.
 */
export const inventoryService: ConsumerService = (config, pool, ctx, groupId = 'inventory') => {
  const waker = wakerFor(pool, ctx);
  return new EventConsumer(config, ctx, {
    name: 'inventory',
    groupId,
    types: ['payment.captured'],
    partitionsConsumedConcurrently: config.topics.partitions,
    retryBatches: true,
    mergePartitions: true,
    handleBatch: async (batch) => {
      if ((await inTransaction(pool, (client) => reserveBatch(client, batch))) > 0) waker.poke();
    },
  });
};

/** Returns how many events it appended to the outbox. */
async function reserveBatch(client: PoolClient, batch: EventEnvelope[]): Promise<number> {
  const todo = await claimInbox(client, 'inventory', batch);
  if (todo.length === 0) return 0;
  const orderIds = [...new Set(todo.map((e) => e.orderId))];
  const orders = await client.query<{ id: string; items: OrderItem[]; reserved: boolean }>(
    `SELECT o.id, o.items, EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.id) AS reserved
     FROM orders o WHERE o.id = ANY($1::uuid[])`,
    [orderIds],
  );
  const byId = new Map(orders.rows.map((r) => [r.id.toLowerCase(), r]));
  const lost = orderIds.find((id) => !byId.has(id.toLowerCase()));
  if (lost) throw new Error(`order ${lost} not found`);
  const skus = [
    ...new Set(orders.rows.filter((o) => !o.reserved).flatMap((o) => o.items.map((i) => i.sku))),
  ].sort();
  const stock = await client.query<{ sku: string; available: number }>(
    'SELECT sku, available FROM stock WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE',
    [skus],
  );
  const available = new Map(stock.rows.map((r) => [r.sku, r.available]));
  const taken = new Map<string, number>();
  const reservations: { orderId: string; items: OrderItem[] }[] = [];
  const events: EventEnvelope[] = [];
  for (const event of todo) {
    const order = byId.get(event.orderId.toLowerCase()) as { items: OrderItem[]; reserved: boolean };
    if (order.reserved) continue;
    // As one UPDATE … WHERE available >= quantity per item, in SKU order, all or nothing.
    const trial = new Map<string, number>();
    let missing: string | undefined;
    for (const item of [...order.items].sort((a, b) => a.sku.localeCompare(b.sku))) {
      const left = trial.get(item.sku) ?? available.get(item.sku);
      if (left === undefined || left < item.quantity) {
        missing = item.sku;
        break;
      }
      trial.set(item.sku, left - item.quantity);
    }
    if (missing) {
      events.push(
        nextEvent(event, 'inventory.failed', 'inventory', { reason: 'out_of_stock', sku: missing }),
      );
      continue;
    }
    for (const [sku, left] of trial) {
      taken.set(sku, (taken.get(sku) ?? 0) + ((available.get(sku) ?? 0) - left));
      available.set(sku, left);
    }
    order.reserved = true;
    reservations.push({ orderId: event.orderId, items: order.items });
    events.push(nextEvent(event, 'inventory.reserved', 'inventory', { items: order.items }));
  }
  if (taken.size > 0)
    await client.query(
      `UPDATE stock SET available = stock.available - d.quantity
       FROM unnest($1::text[], $2::int[]) AS d(sku, quantity) WHERE stock.sku = d.sku`,
      [[...taken.keys()], [...taken.values()]],
    );
  if (reservations.length > 0)
    await client.query(
      `INSERT INTO reservations (order_id, items, status)
       SELECT id, items, 'reserved' FROM unnest($1::uuid[], $2::jsonb[]) AS d(id, items)`,
      [reservations.map((r) => r.orderId), reservations.map((r) => JSON.stringify(r.items))],
    );
  await appendOutbox(client, events, { quiet: true });
  return events.length;
}

/** Returns a reservation's stock (compensation); idempotent through the reservation's status. */
export async function releaseReservation(client: PoolClient, orderId: string): Promise<OrderItem[] | null> {
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

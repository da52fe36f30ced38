import { createHash, randomUUID } from 'node:crypto';
import { nextEvent, SCHEMA_VERSION } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import type { CheckoutBody } from './checkout-validate.js';
import { queryBy } from './database-deadline.js';
import { shardOf, type Queryable } from './outbox.js';

/**
 * Places orders in one statement (one round trip, an implicit transaction): for each row its
 * idempotency key (if any), the order and its order.placed outbox row commit together or not at
 * all. A row whose key was seen before (or that repeats a key of the same statement) inserts
 * nothing. Each parameter is an array with one element per order, in the order of
 * `checkoutRow().params`: $1 idempotency key or null, $2 order id, $3 response, $4–$11 the order,
 * $12–$14 the outbox row, $15 the hash of the body the key came with (or null). `quiet` turns the outbox trigger's NOTIFY off for the transaction: the
 * API wakes the relay itself, once for many checkouts (OutboxWaker). Outbox rows get ids in the
 * rows' order.
 */
export const PLACE_ORDERS_SQL = `
WITH quiet AS (
  SELECT set_config('orderbus.outbox_notify', 'off', true)
), d AS (
  SELECT * FROM unnest($1::text[], $2::uuid[], $3::jsonb[], $4::text[], $5::text[], $6::bigint[], $7::text[],
    $8::jsonb[], $9::jsonb[], $10::jsonb[], $11::uuid[], $12::int[], $13::uuid[], $14::jsonb[], $15::text[])
    WITH ORDINALITY AS d(idempotency_key, id, response, customer_id, email, total_cents, currency, items,
      shipping_address, payment_method, correlation_id, shard, event_id, envelope, request_hash, n)
), req AS (
  INSERT INTO checkout_requests (idempotency_key, order_id, response, request_hash)
  SELECT idempotency_key, id, response, request_hash FROM d WHERE idempotency_key IS NOT NULL ORDER BY n
  ON CONFLICT DO NOTHING RETURNING order_id
), ord AS (
  INSERT INTO orders (id, customer_id, email, status, total_cents, currency, items, shipping_address, payment_method, correlation_id)
  SELECT id, customer_id, email, 'pending', total_cents, currency, items, shipping_address, payment_method, correlation_id
  FROM d WHERE idempotency_key IS NULL OR id IN (SELECT order_id FROM req) ORDER BY n
  RETURNING id
)
INSERT INTO outbox (shard, event_id, order_id, type, envelope)
SELECT d.shard, d.event_id, d.id, 'order.placed', d.envelope FROM d JOIN ord ON ord.id = d.id CROSS JOIN quiet
ORDER BY d.n
ON CONFLICT (event_id) DO NOTHING
RETURNING order_id`;

/**
 * Runs PLACE_ORDERS_SQL for rows of `checkoutRow().params`; returns the ids of the orders placed.
 * With a deadline (performance.now() time) the statement fails as unavailable when it has not
 * answered by then.
 */
export async function placeOrders(
  client: Queryable,
  rows: unknown[][],
  deadline = Infinity,
): Promise<Set<string>> {
  const columns = Array.from({ length: 15 }, (_, c) => rows.map((r) => r[c] ?? null));
  const r = await queryBy<{ order_id: string }>(client, deadline, PLACE_ORDERS_SQL, columns);
  return new Set(r.rows.map((x) => x.order_id.toLowerCase()));
}

/**
 * A new order's id, its 201 body, the hash of the body its Idempotency-Key is bound to (only when
 * there is a key) and its row of PLACE_ORDERS_SQL.
 */
export function checkoutRow(
  order: CheckoutBody,
  idempotencyKey?: string,
): {
  orderId: string;
  response: { orderId: string; status: 'pending' };
  requestHash: string | null;
  params: unknown[];
} {
  const orderId = randomUUID();
  const correlationId = randomUUID();
  const totalCents = order.items.reduce((s, i) => s + i.quantity * i.unitPriceCents, 0);
  const placed: EventEnvelope = {
    ...nextEvent({ eventId: correlationId, orderId, correlationId }, 'order.placed', 'checkout', {
      customerId: order.customerId,
      email: order.email,
      items: order.items.map((i) => ({
        sku: i.sku,
        quantity: i.quantity,
        unitPriceCents: i.unitPriceCents,
      })),
      totalCents,
      currency: order.currency,
      shippingAddress: order.shippingAddress,
      paymentMethod: order.paymentMethod,
    }),
    schemaVersion: SCHEMA_VERSION,
  };
  const response = { orderId, status: 'pending' as const };
  const requestHash = idempotencyKey ? bodyHash(order) : null;
  return {
    orderId,
    response,
    requestHash,
    params: [
      idempotencyKey ?? null,
      orderId,
      JSON.stringify(response),
      order.customerId,
      order.email,
      totalCents,
      order.currency,
      JSON.stringify(order.items),
      JSON.stringify(order.shippingAddress),
      JSON.stringify(order.paymentMethod),
      correlationId,
      shardOf(orderId),
      placed.eventId,
      JSON.stringify(placed),
      requestHash,
    ],
  };
}

/**
 * SHA-256 of the body in canonical form (keys sorted at every level, the default currency filled
 * in): the same order sent with its keys in another order or its whitespace changed is the same
 * request. Recursion is safe: the validator refused bodies deeper than MAX_DEPTH.
 */
export function bodyHash(order: CheckoutBody): string {
  return createHash('sha256').update(canonicalJson(order)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const entries = Object.entries(v)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

import { inTransaction, type Pool, type PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { callProvider, ProviderCallError } from '../providers/client.js';
import { EventConsumer, type ConsumerService } from './event-consumer.js';
import { forEachOrder, Limiter } from './for-each-order.js';
import { GroupCommit } from './group-commit.js';
import { appendOutbox, claimInbox, distinctEvents, wakerFor } from './outbox.js';

/**
 * Payment: on order.placed, charge with idempotency key `payment-<orderId>` and emit
 * payment.captured or payment.failed. Exactly-once in effect without Kafka transactions: the
 * provider deduplicates the charge by key (a retry replays the first answer), and the inbox row,
 * the payment record and the next event's outbox row commit in one PostgreSQL transaction. So a
 * redelivery, a rebalance or a kill -9 between any two lines charges once and emits once. (A
 * Kafka transaction would need one transactional id per input partition in kafkajs and still
 * could not cover the provider call; the database already holds the order.)
 *
 * A fetched batch is handled at once: the charges of different orders run concurrently (no
 * database connection held meanwhile), then the inbox, payment and outbox rows of the whole batch
 * commit in one transaction (shared with other partitions' batches ready at the same time), and
 * only then the batch's offsets.
 */
export const paymentService: ConsumerService = (config, pool, ctx, groupId = 'payment') => {
  // Provider calls in flight at once, across every partition of this process.
  const calls = new Limiter(32);
  const waker = wakerFor(pool, ctx);
  // The batches of different partitions share their reads and writes: each batch's charges run on
  // their own (a slow one holds only its partition), and the closed-order reads and the commits
  // that come in while one runs go into the next statement together (GroupCommit).
  const closedReads = new GroupCommit<EventEnvelope[], Set<string>>(async (batches) => {
    const closed = await closedOrders(pool, batches.flat());
    return batches.map(() => closed);
  });
  const commits = new GroupCommit<PaymentCommit, void>(async (batches) => {
    if (await inTransaction(pool, (client) => commitPayments(client, batches))) waker.poke();
  });
  return new EventConsumer(config, ctx, {
    name: 'payment',
    groupId,
    types: ['order.placed'],
    isTransient: (e) => e instanceof ProviderCallError && e.retriable,
    partitionsConsumedConcurrently: config.topics.partitions,
    retryBatches: true,
    handleBatch: async (batch, heartbeat) => {
      // No database connection is held while the provider answers. No inbox read first either: an
      // event processed before (a redelivery, rare) gets its first answer replayed by the provider
      // and is dropped by the inbox claim below.
      const todo = distinctEvents(batch);
      // An order cancelled before its charge (say, by the sweeper during a long outage) is not
      // charged at all, rather than charged and refunded.
      const closed = todo.length > 0 ? await closedReads.add(todo) : new Set<string>();
      const charges = await forEachOrder(
        todo.filter((e) => !closed.has(e.orderId.toLowerCase())),
        calls,
        (event) => charge(config, event),
      );
      await heartbeat();
      // Looked at again with the charges recorded: a charge made for an order cancelled
      // meanwhile is still recorded and emitted as captured, and the saga refunds it.
      const skipped = todo.filter((e) => closed.has(e.orderId.toLowerCase())).map(skip);
      await commits.add({ todo, charges: [...charges, ...skipped] });
    },
  });
};

/** One partition's batch, charged: its events and their charges (or skips). */
interface PaymentCommit {
  todo: EventEnvelope[];
  charges: Charge[];
}

/**
 * The inbox, payment and outbox rows of the given batches in one transaction (the caller's);
 * whether it appended events.
 */
async function commitPayments(client: PoolClient, batches: PaymentCommit[]): Promise<boolean> {
  const fresh = new Set(
    await claimInbox(
      client,
      'payment',
      batches.flatMap((b) => b.todo),
    ),
  );
  const rows = batches.flatMap((b) => b.charges).filter((c) => fresh.has(c.event));
  if (rows.length === 0) return false;
  await client.query(
    `INSERT INTO payments (order_id, charge_id, status, amount_cents)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT (order_id) DO NOTHING`,
    [
      rows.map((c) => c.event.orderId),
      rows.map((c) => c.chargeId),
      rows.map((c) => c.status),
      rows.map((c) => c.amountCents),
    ],
  );
  await appendOutbox(
    client,
    rows.map((c) => c.next),
    { quiet: true },
  );
  return true;
}

interface Charge {
  event: EventEnvelope;
  chargeId: string | null;
  status: 'captured' | 'declined' | 'skipped';
  amountCents: number;
  next: EventEnvelope;
}

/** One charge with key `payment-<orderId>`: a retry, a redelivery or a second event replays it. */
async function charge(config: OrderbusConfig, event: EventEnvelope): Promise<Charge> {
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
  const captured = Boolean(res.status === 201 && res.body.status === 'captured' && res.body.chargeId);
  return {
    event,
    chargeId: res.body.chargeId,
    status: captured ? 'captured' : 'declined',
    amountCents: data.totalCents,
    next: captured
      ? nextEvent(event, 'payment.captured', 'payment', {
          chargeId: res.body.chargeId ?? '',
          amountCents: data.totalCents,
        })
      : nextEvent(event, 'payment.failed', 'payment', { reason: declineReason(res.status, res.body) }),
  };
}

/** Always a string (the event's schema requires one): a gateway may answer < 400 without a reason. */
export function declineReason(status: number, body: { reason?: unknown; status?: unknown } | null): string {
  const given = body?.reason ?? body?.status;
  return typeof given === 'string' && given !== '' ? given : `declined (gateway answered ${status})`;
}

/** The batch's orders that were cancelled (or failed) before their charge, lower-cased ids. */
async function closedOrders(pool: Pool, events: EventEnvelope[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const r = await pool.query<{ id: string }>(
    "SELECT id FROM orders WHERE id = ANY($1::uuid[]) AND status IN ('cancelled', 'failed')",
    [events.map((e) => e.orderId)],
  );
  return new Set(r.rows.map((x) => x.id.toLowerCase()));
}

/** No charge for an order closed before it: payment.failed, which moves a cancelled order nowhere. */
function skip(event: EventEnvelope): Charge {
  const data = event.data as { totalCents: number };
  return {
    event,
    chargeId: null,
    status: 'skipped',
    amountCents: data.totalCents,
    next: nextEvent(event, 'payment.failed', 'payment', { reason: 'order_closed_before_charge' }),
  };
}

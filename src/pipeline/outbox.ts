import type { PoolClient } from '../adapters/postgres.js';
import type { EventEnvelope } from '../events/types.js';

/** Outbox rows are sharded by order so several relays can run while each order stays in order. */
export const OUTBOX_SHARDS = 12;

export function shardOf(orderId: string): number {
  let h = 0;
  for (let i = 0; i < orderId.length; i++) h = (Math.imul(h, 31) + orderId.charCodeAt(i)) | 0;
  return Math.abs(h) % OUTBOX_SHARDS;
}

/** Appends events to the outbox inside the caller's transaction (ignores an event id seen before). */
export async function appendOutbox(client: PoolClient, events: EventEnvelope[]): Promise<void> {
  for (const e of events) {
    await client.query(
      'INSERT INTO outbox (shard, event_id, order_id, type, envelope) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING',
      [shardOf(e.orderId), e.eventId, e.orderId, e.type, JSON.stringify(e)],
    );
  }
}

/**
 * Runs `fn` at most once per (consumer, event id): the inbox row, the effect and the next events
 * commit together, so a redelivered event changes nothing. Returns false for a duplicate.
 */
export async function processOnce(
  client: PoolClient,
  consumer: string,
  eventId: string,
  fn: () => Promise<void>,
): Promise<boolean> {
  await client.query('BEGIN');
  try {
    const r = await client.query(
      'INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [consumer, eventId],
    );
    if (r.rowCount === 0) {
      await client.query('ROLLBACK');
      return false;
    }
    await fn();
    await client.query('COMMIT');
    return true;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export async function alreadyProcessed(
  client: PoolClient,
  consumer: string,
  eventId: string,
): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2', [
    consumer,
    eventId,
  ]);
  return (r.rowCount ?? 0) > 0;
}

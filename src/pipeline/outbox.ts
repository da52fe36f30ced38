import { createPool, PG_CONNECTION_CODES, type Pool, type PoolClient } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import type { ServiceContext } from '../runtime/service.js';
import type { EventEnvelope } from '../events/types.js';

/** Outbox rows are sharded by order so several relays can run while each order stays in order. */
export const OUTBOX_SHARDS = 12;

export function shardOf(orderId: string): number {
  let h = 0;
  for (let i = 0; i < orderId.length; i++) h = (Math.imul(h, 31) + orderId.charCodeAt(i)) | 0;
  return Math.abs(h) % OUTBOX_SHARDS;
}

/** Anything that runs a query: a pool client inside a transaction, or a pool for one statement. */
export interface Queryable {
  query: PoolClient['query'];
}

/**
 * Appends events to the outbox inside the caller's transaction, in one statement (ignores an event
 * id seen before). Rows get ids in array order, so an order's events keep their order. `quiet`
 * turns the trigger's NOTIFY off for the transaction: the caller pokes an OutboxWaker after its
 * commit instead.
 */
export async function appendOutbox(
  client: Queryable,
  events: EventEnvelope[],
  options: { quiet?: boolean } = {},
): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `WITH quiet AS (SELECT set_config('orderbus.outbox_notify', CASE WHEN $6 THEN 'off' ELSE '' END, true))
     INSERT INTO outbox (shard, event_id, order_id, type, envelope)
     SELECT u.shard, u.event_id, u.order_id, u.type, u.envelope
     FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[]) WITH ORDINALITY
       AS u(shard, event_id, order_id, type, envelope, n), quiet
     ORDER BY u.n
     ON CONFLICT (event_id) DO NOTHING`,
    [
      events.map((e) => shardOf(e.orderId)),
      events.map((e) => e.eventId),
      events.map((e) => e.orderId),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e)),
      options.quiet ?? false,
    ],
  );
}

/**
 * Claims a batch's events for a consumer in the caller's transaction, in one statement; returns
 * the distinct events that were new, in order (the others were processed before and must change
 * nothing).
 */
export async function claimInbox(
  client: Queryable,
  consumer: string,
  events: EventEnvelope[],
): Promise<EventEnvelope[]> {
  const distinct = distinctEvents(events);
  if (distinct.length === 0) return [];
  const r = await client.query<{ event_id: string }>(
    `INSERT INTO inbox (consumer, event_id) SELECT $1, id FROM unnest($2::uuid[]) AS id
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [consumer, distinct.map((e) => e.eventId)],
  );
  const fresh = new Set(r.rows.map((x) => x.event_id.toLowerCase()));
  return distinct.filter((e) => fresh.has(e.eventId.toLowerCase()));
}

/** The distinct events of a batch by eventId (a relay resend can deliver one twice), in order. */
export function distinctEvents(events: EventEnvelope[]): EventEnvelope[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const id = e.eventId.toLowerCase();
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
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

/** PostgreSQL error codes worth retrying: the statement was fine, the database was not (yet). */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization failure
  '40P01', // deadlock
  '53300', // too many connections
  '53400', // configuration limit exceeded
  '55P03', // lock not available
  '57014', // statement cancelled (statement_timeout: the database was too slow)
  '57P01', // admin shutdown (a restart)
  '57P02', // crash shutdown
  '57P03', // cannot connect now (starting up, shutting down)
  '25P03', // idle in transaction session timeout
]);

/** Socket errors on the way to the database. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * A database failure that retrying fixes: too many clients, a restart, a lost or stalled
 * connection, a pool that had no connection free in time, a deadlock or serialization failure.
 * Work that hits one waits and retries; it is never dead-lettered for it. Told by the error's
 * code alone: SQLSTATE, socket errno, or the code the postgres adapter gives the driver's own
 * connection failures.
 */
export function isTransientDbError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return false;
  return (
    TRANSIENT_SQLSTATES.has(code) ||
    code.startsWith('08') ||
    NETWORK_CODES.has(code) ||
    PG_CONNECTION_CODES.has(code)
  );
}

/**
 * Wakes the outbox relay for a writer of many one-row transactions (checkout), whose statements
 * turn the trigger's NOTIFY off: every notifying commit takes a database-wide lock held through its
 * WAL flush, so one NOTIFY per checkout serialized them all. This sends one NOTIFY for every commit
 * since the last: at most one in flight, at most one per `gapMs`. A lost wake-up costs at most the
 * relay's poll interval; the rows are committed either way.
 */
export class OutboxWaker {
  private pending = false;
  private draining: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly onError: (e: unknown) => void,
    private readonly gapMs = 5,
  ) {}

  /** Call after a commit that added outbox rows. */
  poke(): void {
    this.pending = true;
    this.draining ??= this.drain();
  }

  /** Resolves once no wake-up is pending or in flight. */
  async idle(): Promise<void> {
    await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        this.pending = false;
        await this.pool.query("SELECT pg_notify('orderbus_outbox', '')").catch(this.onError);
        await new Promise((r) => setTimeout(r, this.gapMs));
      }
    } finally {
      // No await between the last check of `pending` and here: a poke cannot fall in between.
      this.draining = undefined;
    }
  }
}

/** A service's waker on its own pool, logging failed wake-ups (the relay's poll covers them). */
export function wakerFor(pool: Pool, ctx: Pick<ServiceContext, 'log'>): OutboxWaker {
  return new OutboxWaker(pool, (e) =>
    ctx.log('outbox.wake-error', { error: e instanceof Error ? e.message : String(e) }),
  );
}

/**
 * Which outbox rows are parked: the relay could not encode them and `dlq purge outbox.parked` has
 * not discarded them. `status` and the `outbox.parked` dead-letter source count with it (one count).
 */
export const PARKED_OUTBOX_ROWS = 'parked_at IS NOT NULL AND discarded_at IS NULL';

/**
 * Outbox rows the relay parked (their payload fails its schema), or null when the database could
 * not be read (the components' health says why). `orderbus status` reports them as a problem.
 */
export async function parkedOutboxCount(config: OrderbusConfig): Promise<number | null> {
  const pool = createPool(config, { max: 1 });
  try {
    const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE ${PARKED_OUTBOX_ROWS}`);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return null;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

import { createPool, postgresUnreachable, type Pool } from '../../adapters/postgres.js';
import { OrderbusError } from '../../errors.js';
import { EventHeaders } from '../../events/types.js';
import { PARKED_OUTBOX_ROWS, isTransientDbError } from '../../pipeline/outbox.js';
import type { OpsContext } from '../context.js';
import type { Json } from './json.js';
import { OUTBOX_DLQ } from './outbox-name.js';
import type { DlqMessage } from './types.js';

/**
 * The outbox's parked rows as dead letters: the SQL of the `outbox.parked` source. A command
 * works on a snapshot, the rows parked when it started (`parked_at <= at`), read a page at a
 * time by id. Every change is one conditional UPDATE (its own transaction) that matches only a
 * row still parked with the payload the command read: a concurrent redrive or purge, or an edit
 * made meanwhile, leaves it to whoever got there first.
 */

const PAGE = 500;

interface ParkedRow {
  id: string;
  order_id: string;
  envelope: Json;
  raw: string;
  parked_at: Date;
  parked_reason: string | null;
  redrive_count: number;
}

/** When a command started, and how many rows were parked then. */
export interface OutboxSnapshot {
  at: Date;
  count: number;
}

/** SQLSTATEs of a database without orderbus's outbox (or with an older one). */
const NOT_MIGRATED = new Set(['42P01', '42703']);

function outboxError(ctx: OpsContext, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NOT_MIGRATED.has(code))
    return new OrderbusError(
      'OUTBOX_NOT_MIGRATED',
      `the database has no outbox with parked rows (schema ${ctx.config.database.schema}): ${(e as Error).message}`,
      {
        hint: 'orderbus stack up (applies the migrations), or leave postgres out of components',
        cause: e,
      },
    );
  return isTransientDbError(e) ? postgresUnreachable(ctx.config, e) : e;
}

/** Runs `fn` on a pool of its own (closed after: a CLI command must not wait on idle connections). */
export async function withOutbox<T>(ctx: OpsContext, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = createPool(ctx.config, { max: 1 });
  try {
    return await fn(pool);
  } catch (e) {
    throw outboxError(ctx, e);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Whether this database has an outbox at all (a PostgreSQL orderbus does not own has none). */
export async function hasOutbox(pool: Pool): Promise<boolean> {
  const r = await pool.query<{ has: boolean }>(`SELECT to_regclass('outbox') IS NOT NULL AS has`);
  return r.rows[0]?.has ?? false;
}

export async function snapshotOf(pool: Pool): Promise<OutboxSnapshot> {
  const r = await pool.query<{ at: Date; n: number }>(
    `SELECT now() AS at, (SELECT count(*)::int FROM outbox WHERE ${PARKED_OUTBOX_ROWS}) AS n`,
  );
  const row = r.rows[0];
  return { at: row?.at ?? new Date(), count: row?.n ?? 0 };
}

/** Rows parked now: all of them, and those parked after the snapshot (arrived meanwhile). */
export async function parkedSince(pool: Pool, at: Date): Promise<{ remaining: number; arrived: number }> {
  const r = await pool.query<{ remaining: number; arrived: number }>(
    `SELECT count(*)::int AS remaining, (count(*) FILTER (WHERE parked_at > $1))::int AS arrived
     FROM outbox WHERE ${PARKED_OUTBOX_ROWS}`,
    [at],
  );
  return { remaining: r.rows[0]?.remaining ?? 0, arrived: r.rows[0]?.arrived ?? 0 };
}

/** The snapshot's rows in id order, a page at a time, until `fn` returns false. */
export async function eachParked(
  ctx: OpsContext,
  pool: Pool,
  snap: OutboxSnapshot,
  fn: (m: DlqMessage) => boolean | void | Promise<boolean | void>,
): Promise<void> {
  let after = '0';
  for (;;) {
    const { rows } = await pool.query<ParkedRow>(
      `SELECT id, order_id, envelope, envelope::text AS raw, parked_at, parked_reason, redrive_count
       FROM outbox WHERE ${PARKED_OUTBOX_ROWS} AND parked_at <= $1 AND id > $2::bigint
       ORDER BY id LIMIT $3`,
      [snap.at, after, PAGE],
    );
    for (const row of rows) if ((await fn(parkedView(ctx, row))) === false) return;
    const last = rows.at(-1);
    if (!last || rows.length < PAGE) return;
    after = last.id;
  }
}

/** `SchemaInvalid: invalid payload …` → class `SchemaInvalid`, message `invalid payload …`. */
function splitReason(reason: string | null): { errorClass: string | null; errorMessage: string | null } {
  if (reason === null) return { errorClass: null, errorMessage: null };
  const m = /^([A-Za-z][\w.]*): ([\s\S]*)$/.exec(reason);
  return m
    ? { errorClass: m[1] ?? null, errorMessage: m[2] ?? null }
    : { errorClass: null, errorMessage: reason };
}

/** What the relay would send as the record's headers, as far as the envelope says. */
function eventHeadersOf(envelope: Json): Record<string, string> {
  const e = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  const put = (name: string, v: unknown) => {
    if (typeof v === 'string') out[name] = v;
  };
  put(EventHeaders.eventType, e.type);
  put(EventHeaders.correlationId, e.correlationId);
  put(EventHeaders.source, e.source);
  put(EventHeaders.eventId, e.eventId);
  return out;
}

function parkedView(ctx: OpsContext, row: ParkedRow): DlqMessage {
  const parkedAt = row.parked_at.toISOString();
  return {
    id: row.id,
    dlq: OUTBOX_DLQ,
    kind: 'outbox',
    orderId: row.order_id,
    payload: row.envelope,
    raw: row.raw,
    decodeError: null,
    headers: eventHeadersOf(row.envelope),
    format: 'orderbus',
    attempts: null,
    ...splitReason(row.parked_reason),
    statusCode: null,
    reason: null,
    firstFailureAt: parkedAt,
    lastFailureAt: parkedAt,
    origin: null,
    destination: ctx.config.topics.orderEvents,
    redriveCount: row.redrive_count,
  };
}

/**
 * Un-parks a row with its (edited) envelope, if it is still parked as it was read, and wakes the
 * relay; one statement. Whether it was un-parked.
 */
export async function unpark(
  pool: Pool,
  m: DlqMessage,
  envelope: Json,
  auditRef: string | null,
): Promise<boolean> {
  const r = await pool.query(
    `WITH wake AS (SELECT pg_notify('orderbus_outbox', ''))
     UPDATE outbox SET envelope = $3::jsonb, type = $3::jsonb->>'type', parked_at = NULL,
       parked_reason = NULL, redrive_count = redrive_count + 1, redrive_audit = $4
     FROM wake WHERE id = $1::bigint AND ${PARKED_OUTBOX_ROWS} AND envelope = $2::jsonb`,
    [m.id, m.raw, JSON.stringify(envelope), auditRef],
  );
  return r.rowCount === 1;
}

/** Marks a row discarded (never sent, no longer counted), if it is still parked as it was read. */
export async function discard(pool: Pool, m: DlqMessage, auditRef: string): Promise<boolean> {
  const r = await pool.query(
    `UPDATE outbox SET discarded_at = now(), discard_audit = $3
     WHERE id = $1::bigint AND ${PARKED_OUTBOX_ROWS} AND envelope = $2::jsonb`,
    [m.id, m.raw, auditRef],
  );
  return r.rowCount === 1;
}

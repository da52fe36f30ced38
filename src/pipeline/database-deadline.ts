import type { PoolClient } from '../adapters/postgres.js';
import { HttpError } from '../http/json-server.js';
import type { Queryable } from './outbox.js';

/**
 * How long one request may wait on the database, every wait together (connection, statements):
 * its answer, at worst a 503, comes within 2 s even when the database stops answering.
 */
export const DATABASE_BUDGET_MS = 1500;

/** The deadline (performance.now() time) of a request whose database work starts now. */
export const deadlineFromNow = (): number => performance.now() + DATABASE_BUDGET_MS;

/** Seconds to send as Retry-After with each kind of 503. */
const RETRY_AFTER_S: Record<string, number> = { overloaded: 1, database_unavailable: 2 };

/**
 * The database could not be reached, dropped the connection or did not answer by the deadline;
 * the driver's error, if any, is the cause (logged, never sent).
 */
export class DatabaseUnreachable extends Error {}

/**
 * Runs one statement that must answer by `deadline` (performance.now() time); a late one, or one
 * whose connection failed, throws DatabaseUnreachable. The connection must then be destroyed
 * (withConnection does): the statement may still be running, or the socket may be stalled.
 */
export async function queryBy<R>(
  client: Queryable,
  deadline: number,
  sql: string,
  params?: unknown[],
): Promise<{ rows: R[]; rowCount: number | null }> {
  const ms = deadline - performance.now();
  if (ms <= 0) throw new DatabaseUnreachable('no time left for the statement');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnreachable(`no answer within ${Math.round(ms)} ms`)), ms);
  });
  const answer = client.query(sql, params).catch((e: unknown) => {
    throw isSqlError(e) ? e : new DatabaseUnreachable('the database connection failed', { cause: e });
  });
  try {
    // Promise.race also handles a rejection that comes after the time-out.
    return (await Promise.race([answer, late])) as { rows: R[]; rowCount: number | null };
  } finally {
    clearTimeout(timer);
  }
}

/** `client` with every statement bounded by `deadline` (see queryBy), for code that takes a Queryable. */
export function boundedBy(client: Queryable, deadline: number): Queryable {
  const query = (sql: string, params?: unknown[]) => queryBy(client, deadline, sql, params);
  return { query: query as Queryable['query'] };
}

/**
 * Runs `fn` on a checked-out connection and gives it back; after a failure other than an error
 * the server sent about the request, the connection is destroyed instead, so a stalled or broken
 * socket never returns to the pool.
 */
export async function withConnection<T>(client: PoolClient, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  let broken = false;
  try {
    return await fn(client);
  } catch (e) {
    broken = !isSqlError(e) || isTransientSql(e);
    throw e;
  } finally {
    client.release(broken);
  }
}

/** An error the server sent (it has a SQLSTATE and a severity), not a network or client failure. */
function isSqlError(e: unknown): e is Error & { code: string; severity: string } {
  return (
    e instanceof Error &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { severity?: unknown }).severity === 'string'
  );
}

/**
 * SQLSTATE classes that say the database is away or busy, not that the request is wrong:
 * 08 connection, 40 serialization/deadlock, 53 resources (too many connections), 55 lock not
 * available, 57 operator intervention (shutdown, starting up, statement_timeout), 58 system.
 */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '55', '57', '58']);
const isTransientSql = (e: { code: string }): boolean => TRANSIENT_CLASSES.has(e.code.slice(0, 2));

/** Whether a failure is the database being away or busy (worth a 503), not a bad row or a bug. */
export const isDatabaseUnavailable = (e: unknown): boolean =>
  e instanceof DatabaseUnreachable || (isSqlError(e) && isTransientSql(e));

/**
 * The answer for a failed request: an HttpError as it is; a database that is away, stalled or
 * busy a 503 database_unavailable; anything else a 500 that names no driver text (the caller
 * logs the cause).
 */
export function failureAnswer(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isDatabaseUnavailable(e))
    return new HttpError(503, {
      error: 'database_unavailable',
      message:
        'the order database is not answering; nothing was confirmed, retry later with the same Idempotency-Key',
    });
  return new HttpError(500, {
    error: 'internal',
    message: 'the checkout service failed unexpectedly; the error has been logged',
  });
}

export function overloaded(detail: string): HttpError {
  return new HttpError(503, {
    error: 'overloaded',
    message: 'no database connection free; retry shortly',
    detail,
  });
}

/** The Retry-After header of a 503, none for other answers. */
export function retryAfterHeader(e: HttpError): Record<string, string> {
  if (e.status !== 503) return {};
  const code = typeof e.body.error === 'string' ? e.body.error : '';
  return { 'retry-after': String(RETRY_AFTER_S[code] ?? 1) };
}

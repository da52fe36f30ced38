import { createHash } from 'node:crypto';
import pg from 'pg';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError, errorMessage } from '../errors.js';
import { unreachableHint } from '../local-stack.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  /** How long a caller may wait for a free connection before getting an error (fail fast under overload). */
  connectionTimeoutMillis?: number;
  /**
   * How long the client waits for a statement's answer (default: the statement timeout plus a
   * grace period); a health check gives a stalled database a much shorter one.
   */
  queryTimeoutMillis?: number;
  /** Connect to another database than the configured one (used to create the database). */
  database?: string;
  /** PostgreSQL schema to work in (tests use a private one per namespace). */
  schema?: string;
  /** Session settings for every connection of the pool (`-c name=value`). */
  settings?: Record<string, string>;
}

/** How long after the server should have cancelled a statement the client stops waiting for it. */
const QUERY_GRACE_MS = 2000;

export function createPool(config: OrderbusConfig, options: PoolOptions = {}): Pool {
  const url = new URL(config.database.url);
  if (options.database) url.pathname = `/${options.database}`;
  const db = config.database;
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.max ?? db.poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? db.connectTimeoutMs,
    idleTimeoutMillis: 30000,
    // A database that stops answering (a stall, a black hole) must not hold a connection forever:
    // the server cancels a statement after statement_timeout; if even that answer does not come,
    // the network is at fault: the client gives up QUERY_GRACE_MS later and the pool drops the
    // connection.
    ...(options.queryTimeoutMillis !== undefined
      ? { query_timeout: options.queryTimeoutMillis }
      : db.statementTimeoutMs > 0
        ? { query_timeout: db.statementTimeoutMs + QUERY_GRACE_MS }
        : {}),
    ...(db.keepAliveMs > 0 ? { keepAlive: true, keepAliveInitialDelayMillis: db.keepAliveMs } : {}),
    ...sessionOptions(options.schema ?? db.schema, {
      // Named statements (namedStatements) keep their parse and analysis, not a generic plan: a
      // plan made while a table was small (a seq scan of orders) would outlive its growth.
      plan_cache_mode: 'force_custom_plan',
      ...(db.statementTimeoutMs > 0 ? { statement_timeout: String(db.statementTimeoutMs) } : {}),
      ...(db.idleInTransactionTimeoutMs > 0
        ? { idle_in_transaction_session_timeout: String(db.idleInTransactionTimeoutMs) }
        : {}),
      ...(options.settings ?? {}),
    }),
  });
  if (db.unsafeNoErrorListeners) return pool;
  // A client that loses its connection emits 'error': idle ones on the pool, checked-out ones
  // (a transaction, the relay's LISTEN connection) on themselves. Without a listener the process
  // dies; with one, the failure reaches the caller as its query's error, and a broken client is
  // dropped when it is released.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    client.query = codedErrors(namedStatements(client, client.query));
  });
  pool.query = codedErrors(pool.query);
  pool.connect = codedErrors(pool.connect);
  return pool;
}

/**
 * A statement with parameters is sent as a named prepared statement, one name per text: each
 * connection parses and analyses it once instead of at every call (each call is still planned
 * with its values: plan_cache_mode in createPool). On the pipeline's hot path, parse, analysis
 * and planning took a quarter of PostgreSQL's CPU (test/bench/NOTES.md). PostgreSQL itself
 * replans a statement whose tables changed or whose search_path differs. Texts beyond the first
 * MAX_NAMED (built SQL in an operations command) are sent unnamed, as before.
 */
const MAX_NAMED = 2000;
const statementNames = new Map<string, string>();

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED) {
    name = `ob_${createHash('sha1').update(text).digest('base64url').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

function namedStatements<F extends (...args: never[]) => unknown>(client: PoolClient, fn: F): F {
  return function (this: unknown, ...args: unknown[]) {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values)) {
      const name = statementName(text);
      if (name) {
        args[0] = { name, text };
        const result = (fn as unknown as (...a: unknown[]) => unknown).apply(this, args);
        // The driver counts a statement as prepared once the server parsed it, even when the
        // driver then closed it (a parameter it could not serialize): the name is forgotten when
        // the server says it has no such statement, and the next call prepares it again.
        if (result instanceof Promise)
          return result.catch((e: unknown) => {
            if ((e as { code?: unknown }).code === '26000') forgetStatement(client, name);
            throw e;
          });
        return result;
      }
    }
    return (fn as unknown as (...a: unknown[]) => unknown).apply(this, args);
  } as unknown as F;
}

function forgetStatement(client: PoolClient, name: string): void {
  const connection = (client as unknown as { connection?: { parsedStatements?: Record<string, string> } })
    .connection;
  if (connection?.parsedStatements) delete connection.parsedStatements[name];
}

/**
 * The driver's own connection failures carry no SQLSTATE, only a message: they get a code here,
 * once, so the rest of orderbus tells a lost connection by its code (`isConnectionError`).
 */
const DRIVER_ERRORS: [RegExp, string][] = [
  [/^timeout exceeded when trying to connect/, 'PG_CONNECT_TIMEOUT'],
  [/^Connection terminated due to connection timeout/, 'PG_CONNECT_TIMEOUT'],
  [/^Connection terminated/, 'PG_CONNECTION_LOST'],
  [/not queryable$/, 'PG_CONNECTION_LOST'],
  [/^Query read timeout/, 'PG_QUERY_TIMEOUT'],
];

/** The codes `createPool` gives the driver's connection failures. */
export const PG_CONNECTION_CODES: ReadonlySet<string> = new Set(DRIVER_ERRORS.map(([, code]) => code));

/** Gives a driver connection failure its code (in place; an error with a code is left as it is). */
export function withDriverCode(e: unknown): unknown {
  if (!(e instanceof Error) || typeof (e as { code?: unknown }).code === 'string') return e;
  const match = DRIVER_ERRORS.find(([re]) => re.test(e.message));
  if (match) Object.assign(e, { code: match[1] });
  return e;
}

/** Whether the error means the connection is gone or useless (the client must not be reused). */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (PG_CONNECTION_CODES.has(code) || code.startsWith('08') || code === '57P01')
  );
}

/** Wraps a driver method (promise or callback style) so its errors carry `withDriverCode`'s code. */
function codedErrors<F extends (...args: never[]) => unknown>(fn: F): F {
  return function (this: unknown, ...args: unknown[]) {
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === 'function')
      args[last] = (err: unknown, ...rest: unknown[]) =>
        (cb as (...a: unknown[]) => unknown)(err ? withDriverCode(err) : err, ...rest);
    const result = (fn as unknown as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise)
      return result.catch((e: unknown) => {
        throw withDriverCode(e);
      });
    return result;
  } as unknown as F;
}

function sessionOptions(schema: string, settings: Record<string, string>): { options: string } | undefined {
  const all = { ...(schema !== 'public' ? { search_path: schema } : {}), ...settings };
  const options = Object.entries(all)
    // The server splits `options` at spaces; a backslash keeps one in a value.
    .map(([k, v]) => `-c ${k}=${v.replace(/\\/g, '\\\\').replace(/ /g, '\\ ')}`)
    .join(' ');
  return options ? { options } : undefined;
}

export function postgresUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  const u = new URL(config.database.url);
  return new OrderbusError(
    'POSTGRES_UNREACHABLE',
    `cannot reach PostgreSQL at ${u.host}${u.pathname}: ${errorMessage(cause)}`,
    {
      hint: unreachableHint(
        'postgres',
        config.database.url,
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, then orderbus stack up',
        { key: 'database.url (or leave postgres out of components)', context: config.context },
      ),
      retriable: true,
      subject: u.host,
      cause,
    },
  );
}

/**
 * Runs `fn` on a client of the pool and gives it back; a client whose connection failed is
 * dropped instead of reused.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await fn(client);
    client.release();
    return result;
  } catch (e) {
    client.release(isConnectionError(e) ? (e as Error) : undefined);
    throw e;
  }
}

/** Runs `fn` inside one transaction; rolls back on any error. */
export function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}

import pg from 'pg';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError, errorMessage } from '../errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  /** How long a caller may wait for a free connection before getting an error (fail fast under overload). */
  connectionTimeoutMillis?: number;
  /** Connect to another database than the configured one (used to create the database). */
  database?: string;
  /** PostgreSQL schema to work in (tests use a private one per namespace). */
  schema?: string;
  /** Session settings for every connection of the pool (`-c name=value`). */
  settings?: Record<string, string>;
}

export function createPool(config: OrderbusConfig, options: PoolOptions = {}): Pool {
  const url = new URL(config.database.url);
  if (options.database) url.pathname = `/${options.database}`;
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.max ?? config.database.poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30000,
    ...sessionOptions(options.schema ?? config.database.schema, options.settings ?? {}),
  });
  // An idle client that loses its connection emits here; without a listener the process dies.
  pool.on('error', () => undefined);
  return pool;
}

function sessionOptions(schema: string, settings: Record<string, string>): { options: string } | undefined {
  const all = { ...(schema !== 'public' ? { search_path: schema } : {}), ...settings };
  const options = Object.entries(all)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  return options ? { options } : undefined;
}

export function postgresUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  const u = new URL(config.database.url);
  return new OrderbusError(
    'POSTGRES_UNREACHABLE',
    `cannot reach PostgreSQL at ${u.host}${u.pathname}: ${errorMessage(cause)}`,
    {
      hint: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, then orderbus stack up',
      retriable: true,
      subject: u.host,
      cause,
    },
  );
}

/** Runs `fn` inside one transaction; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

import type { OrderbusConfig } from '../../config.js';
import { createPool, postgresUnreachable } from '../../adapters/postgres.js';
import { migrate, quoteIdent } from '../../db/migrate.js';

export interface PostgresSetupResult {
  databaseCreated: boolean;
  migrationsApplied: string[];
  version: string;
}

/** Uses the running server: creates the database if missing and applies pending migrations. */
export async function setupPostgres(config: OrderbusConfig): Promise<PostgresSetupResult> {
  const { created: databaseCreated, version } = await ensureDatabase(config, databaseName(config));
  const pool = createPool(config, { max: 1 });
  try {
    const migrationsApplied = await migrate(pool);
    return { databaseCreated, migrationsApplied, version };
  } finally {
    await pool.end();
  }
}

export function databaseName(config: OrderbusConfig): string {
  return decodeURIComponent(new URL(config.database.url).pathname.replace(/^\//, '')) || 'orderbus';
}

/**
 * Where the stack's schema registry keeps its schemas (Apicurio's SQL storage): a database of its
 * own beside the pipeline's, so schema ids survive a registry crash and `stack down`/`up`.
 */
export function registryDatabaseName(config: OrderbusConfig): string {
  return `${databaseName(config)}_registry`;
}

/** Creates the database on the configured server unless it exists. */
export async function ensureDatabase(
  config: OrderbusConfig,
  name: string,
): Promise<{ created: boolean; version: string }> {
  const admin = createPool(config, { database: 'postgres', max: 1, connectionTimeoutMillis: 3000 });
  try {
    const v = await admin.query<{ server_version: string }>('SHOW server_version').catch((e: unknown) => {
      throw postgresUnreachable(config, e);
    });
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    let created = false;
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created meanwhile by a concurrent stack up
      });
      created = true;
    }
    return { created, version: v.rows[0]?.server_version ?? '' };
  } finally {
    await admin.end();
  }
}

/** Drops the database if it exists (`stack down --purge`); a server that is down is left alone. */
export async function dropDatabase(config: OrderbusConfig, name: string): Promise<void> {
  const admin = createPool(config, { database: 'postgres', max: 1, connectionTimeoutMillis: 3000 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } catch {
    // Nothing to purge on a server we cannot reach.
  } finally {
    await admin.end();
  }
}

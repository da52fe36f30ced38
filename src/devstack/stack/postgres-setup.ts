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
  const dbName = decodeURIComponent(new URL(config.database.url).pathname.replace(/^\//, '')) || 'orderbus';
  const admin = createPool(config, { database: 'postgres', max: 1, connectionTimeoutMillis: 3000 });
  let databaseCreated = false;
  let version = '';
  try {
    const v = await admin.query<{ server_version: string }>('SHOW server_version').catch((e: unknown) => {
      throw postgresUnreachable(config, e);
    });
    version = v.rows[0]?.server_version ?? '';
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${quoteIdent(dbName)}`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created meanwhile by a concurrent stack up
      });
      databaseCreated = true;
    }
  } finally {
    await admin.end();
  }
  const pool = createPool(config, { max: 1 });
  try {
    const migrationsApplied = await migrate(pool);
    return { databaseCreated, migrationsApplied, version };
  } finally {
    await pool.end();
  }
}

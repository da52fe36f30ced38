import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { createPool, type Pool } from '../../src/adapters/postgres.js';
import { migrate, quoteIdent } from '../../src/db/migrate.js';

/** A private PostgreSQL schema per test namespace, migrated like the real database. */
export async function testDatabase(
  ns: string,
  base: OrderbusConfig = loadConfig(),
): Promise<{ config: OrderbusConfig; pool: Pool; drop: () => Promise<void> }> {
  const schema = ns.replace(/[^a-zA-Z0-9_]/g, '_');
  const admin = createPool(base, { max: 1 });
  await migrate(admin, schema);
  const config: OrderbusConfig = { ...base, database: { ...base.database, schema } };
  const pool = createPool(config, { max: 10 });
  return {
    config,
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await admin.end();
    },
  };
}

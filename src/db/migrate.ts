import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool } from '../adapters/postgres.js';

/** Source tree location of the .sql files (they are not compiled, so dist/ resolves back here). */
export function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/db when run from source, dist/src/db when compiled.
  return here.includes(`${join('dist', 'src')}`)
    ? join(here, '..', '..', '..', 'src', 'db', 'migrations')
    : join(here, 'migrations');
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.split('_')[0]),
      name: f.replace(/\.sql$/, ''),
      sql: readFileSync(join(dir, f), 'utf8'),
    }));
}

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory lock so
 * two `stack up`s (or a test run and a stack up) never race. `schema` lets tests migrate a
 * private PostgreSQL schema. Returns the names applied now (empty when already current).
 */
export async function migrate(pool: Pool, schema = 'public'): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    // A migration may run longer than the pool's statement timeout (database.statementTimeoutMs).
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`orderbus-migrate-${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of loadMigrations()) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
        await client.query('COMMIT');
        applied.push(m.name);
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    }
  } finally {
    await client.query('RESET search_path').catch(() => undefined);
    await client.query('RESET statement_timeout').catch(() => undefined);
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [`orderbus-migrate-${schema}`])
      .catch(() => undefined);
    client.release();
  }
  return applied;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withClient, type Pool } from '../../src/adapters/postgres.js';
import { testDatabase } from '../support/database.js';
import { testNamespace } from '../support/namespace.js';

/**
 * A statement with parameters goes to PostgreSQL as a named prepared statement: parsed and
 * analysed once per connection, planned per call with its values.
 */

let db: Awaited<ReturnType<typeof testDatabase>>;
let pool: Pool;
const text = 'SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])';

beforeAll(async () => {
  db = await testDatabase(testNamespace('named'));
  pool = db.pool;
});
afterAll(async () => {
  await db.drop();
});

const prepared = (client: { query: Pool['query'] }) =>
  client
    .query<{ name: string; statement: string; generic: number; custom: number }>(
      'SELECT name, statement, generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements',
    )
    .then((r) => r.rows);

describe('named statements (real PostgreSQL)', () => {
  it('prepares a statement with parameters once per connection and plans each call with its values', async () => {
    await withClient(pool, async (client) => {
      for (let i = 0; i < 7; i++) await client.query(text, [[]]);
      const mine = (await prepared(client)).filter((s) => s.statement === text);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.name).toMatch(/^ob_/);
      // plan_cache_mode = force_custom_plan: no generic plan made while the table was small.
      expect(mine[0]).toMatchObject({ generic: 0, custom: 7 });
      // A statement without parameters stays unnamed.
      await client.query('SELECT 1');
      expect((await prepared(client)).filter((s) => s.statement === 'SELECT 1')).toEqual([]);
    });
  });

  it('prepares the statement again once the server no longer has it', async () => {
    await withClient(pool, async (client) => {
      await client.query(text, [[]]);
      await client.query('DEALLOCATE ALL');
      // The driver believes it is prepared; the server says it is not: that call fails, the
      // name is forgotten, and the next call prepares it again.
      const lost = await client.query(text, [[]]).catch((e: unknown) => e as { code?: string });
      expect(lost).toMatchObject({ code: '26000' });
      const again = await client.query<{ n: number }>(text, [[]]);
      expect(again.rows).toEqual([{ n: 0 }]);
    });
    // Through the pool's own query (one connection, so every call meets the loss): the pool drops
    // a connection whose query failed, and the next call prepares the statement on a new one.
    const one = createPool(db.config, { max: 1 });
    try {
      await one.query(text, [[]]);
      await one.query('DEALLOCATE ALL');
      await expect(one.query(text, [[]])).rejects.toMatchObject({ code: '26000' });
      expect((await one.query<{ n: number }>(text, [[]])).rows).toEqual([{ n: 0 }]);
    } finally {
      await one.end();
    }
  });
});

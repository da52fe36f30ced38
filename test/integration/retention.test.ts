import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneOnce, RetentionService } from '../../src/pipeline/retention.js';
import { testDatabase } from '../support/database.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

/** Issue 16: old handled rows are pruned in small batches; new rows and unsent outbox rows stay. */
let db: Awaited<ReturnType<typeof testDatabase>>;

beforeAll(async () => {
  db = await testDatabase(testNamespace('retention'));
}, 60_000);
afterAll(async () => {
  await db.drop();
});

/** `n` rows of each table, `ago` days (or minutes) old; outbox rows sent (or not, or parked). */
async function seed(
  n: number,
  ago: number,
  outbox: 'sent' | 'unsent' | 'parked' = 'sent',
  unit: 'days' | 'mins' = 'days',
): Promise<void> {
  const at = `now() - make_interval(${unit} => ${ago})`;
  await db.pool.query(
    `INSERT INTO inbox (consumer, event_id, processed_at) SELECT 'payment', gen_random_uuid(), ${at} FROM generate_series(1, $1)`,
    [n],
  );
  await db.pool.query(
    `INSERT INTO outbox (shard, event_id, order_id, type, envelope, created_at, sent_at, parked_at)
     SELECT 0, gen_random_uuid(), gen_random_uuid(), 'order.placed', '{}'::jsonb, ${at},
       CASE WHEN $2 = 'sent' THEN ${at} END, CASE WHEN $2 = 'parked' THEN ${at} END
     FROM generate_series(1, $1)`,
    [n, outbox],
  );
  await db.pool.query(
    `INSERT INTO checkout_requests (idempotency_key, order_id, response, created_at)
     SELECT $2 || g, gen_random_uuid(), '{}'::jsonb, ${at} FROM generate_series(1, $1) g`,
    [n, randomUUID()],
  );
  await db.pool.query(
    `INSERT INTO provider_requests (provider, idempotency_key, status, body, created_at)
     SELECT 'payment', $2 || g, 201, '{}'::jsonb, ${at} FROM generate_series(1, $1) g`,
    [n, randomUUID()],
  );
}

async function counts(): Promise<Record<string, number>> {
  const r = await db.pool.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM inbox) AS inbox,
       (SELECT count(*)::int FROM outbox WHERE sent_at IS NOT NULL) AS sent,
       (SELECT count(*)::int FROM outbox WHERE sent_at IS NULL) AS unsent,
       (SELECT count(*)::int FROM checkout_requests) AS checkout_requests,
       (SELECT count(*)::int FROM provider_requests) AS provider_requests`,
  );
  return r.rows[0] ?? {};
}

describe('retention', () => {
  it('prunes rows older than retention.days in batches, keeps new ones and every unsent outbox row', async () => {
    await seed(1200, 8); // old: pruned
    await seed(30, 8, 'unsent'); // old but never sent: kept
    await seed(20, 8, 'parked'); // old and parked: kept
    await seed(50, 1); // new: kept
    const before = await counts();

    const deleted = await pruneOnce(db.pool, { days: 7 }, { batchSize: 500, pauseMs: 10 });
    // Every old row (the unsent and parked seeds' inbox and request rows too), but of the outbox
    // only the sent rows.
    expect(deleted).toEqual({ inbox: 1250, outbox: 1200, checkout_requests: 1250, provider_requests: 1250 });
    expect(before).toMatchObject({ inbox: 1300, sent: 1250, unsent: 50 });
    expect(await counts()).toEqual({
      inbox: 50,
      sent: 50,
      unsent: 50,
      checkout_requests: 50,
      provider_requests: 50,
    });
  }, 60_000);

  it('prunes on retention.minutes, which overrides retention.days', async () => {
    await db.pool.query('TRUNCATE inbox, outbox, checkout_requests, provider_requests');
    await seed(40, 20, 'sent', 'mins'); // 20 minutes old: pruned
    await seed(10, 2, 'sent', 'mins'); // 2 minutes old: kept

    const deleted = await pruneOnce(db.pool, { days: 7, minutes: 10 }, { pauseMs: 10 });
    expect(deleted).toEqual({ inbox: 40, outbox: 40, checkout_requests: 40, provider_requests: 40 });
    expect(await counts()).toEqual({
      inbox: 10,
      sent: 10,
      unsent: 0,
      checkout_requests: 10,
      provider_requests: 10,
    });
  }, 60_000);

  it('runs as a service on retention.days', async () => {
    await seed(10, 3);
    const logs: string[] = [];
    const service = new RetentionService(
      { ...db.config, retention: { days: 2 } },
      db.pool,
      { log: (event) => void logs.push(event) },
      { pauseMs: 10, intervalMs: 60_000 },
    );
    await service.start();
    try {
      await waitUntil('a pass', () => service.passes > 0);
    } finally {
      await service.stop();
    }
    expect(logs).toContain('retention.pruned');
    const r = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM inbox WHERE processed_at < now() - interval '2 days'",
    );
    expect(r.rows[0]?.n).toBe(0);
  }, 60_000);
});

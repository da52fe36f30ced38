import { runLoad } from '../../../src/devstack/load/load.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { waitUntil } from '../../support/wait.js';
import { assertAlive, crashReason } from './processes.js';

/** Where a benchmark's orders are, read from the pipeline's database. */

export async function shippedCount(p: TestPipeline, ids: string[]): Promise<number> {
  const r = await p.db.pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM order_timeline WHERE type = 'shipping.created' AND order_id = ANY($1::uuid[])",
    [ids],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Places orders for `durationMs` and waits until every one of them has shipping.created (the pipeline is warm). */
export async function warmUp(
  p: TestPipeline,
  url: string,
  ratePerSecond = 20,
  durationMs = 2000,
): Promise<void> {
  const s = await runLoad({ url, ratePerSecond, durationMs, outOfStockRatio: 0, declineRatio: 0 });
  await waitUntil(
    'warm-up orders to ship',
    async () => crashReason() ?? (await shippedCount(p, s.orderIds.normal)) >= s.orderIds.normal.length,
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  assertAlive();
}

/** Waits until `countSql` (a count of orders still on their way) reads 0, or a process crashed. */
async function waitNoneLeft(
  p: TestPipeline,
  what: string,
  countSql: string,
  intervalMs: number,
  timeoutMs = 180_000,
): Promise<void> {
  await waitUntil(
    what,
    async () => {
      const r = await p.db.pool.query<{ n: number }>(countSql);
      return crashReason() !== undefined || r.rows[0]?.n === 0;
    },
    { timeoutMs, intervalMs },
  );
  assertAlive();
}

/** Waits until no order is still on its way through the core pipeline (shipped, failed or cancelled). */
export function pipelineCaughtUp(p: TestPipeline): Promise<void> {
  return waitNoneLeft(
    p,
    'the core pipeline to work off its backlog',
    "SELECT count(*)::int AS n FROM orders WHERE status IN ('pending', 'paid', 'reserved', 'compensating')",
    500,
  );
}

/**
 * Waits until every order placed has shipping.created (the e2e run drained): up to 10 minutes, the
 * backlog of 2 minutes at a rate the pipeline does not keep up with.
 */
export function allShipped(p: TestPipeline): Promise<void> {
  return waitNoneLeft(
    p,
    'the e2e backlog to drain',
    "SELECT count(*)::int AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_timeline t WHERE t.order_id = o.id AND t.type = 'shipping.created')",
    1000,
    600_000,
  );
}

/** Per event type: p50/p99 of (saga recorded it − checkout tx start) for the given orders. */
export async function stageBreakdown(p: TestPipeline, ids: string[]): Promise<string> {
  const r = await p.db.pool.query<{ type: string; p50: number; p99: number }>(
    `SELECT t.type, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.recorded_at - o.created_at) * 1000) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM t.recorded_at - o.created_at) * 1000) AS p99
     FROM orders o JOIN order_timeline t ON t.order_id = o.id WHERE o.id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 2`,
    [ids],
  );
  return r.rows.map((x) => `${x.type} ${Math.round(x.p50)}/${Math.round(x.p99)}`).join(', ');
}

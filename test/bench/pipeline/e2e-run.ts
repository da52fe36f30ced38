import { runLoad } from '../../../src/devstack/load/load.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { busyShare, componentShares, cpuByComponent, machineCpu } from './cpu.js';
import { perOrder, pgCounters } from './pg-counters.js';
import { assertAlive, childCpu, childLabelOf } from './processes.js';
import { allShipped, stageBreakdown } from './progress.js';
import { sustainedResult, type SustainedResult } from './sustained.js';
import { E2E_SECONDS } from './settings.js';

/**
 * The pipeline at `rate` orders/s through checkout for E2E_SECONDS, then until every order of it
 * shipped. Placed = checkout's transaction start (orders.created_at); completed = the saga
 * recording shipping.created (consumed from Kafka).
 */
export async function e2eRun(
  p: TestPipeline,
  url: string,
  rate: number,
  idle: number,
): Promise<SustainedResult> {
  const ids: string[] = [];
  const cpu0 = childCpu();
  const parts0 = cpuByComponent(childLabelOf);
  const pg0 = await pgCounters(p);
  const machine0 = machineCpu();
  const t0 = Date.now();
  const load = await runLoad({
    url,
    ratePerSecond: rate,
    durationMs: E2E_SECONDS * 1000,
    outOfStockRatio: 0,
    declineRatio: 0,
    onOrder: (id) => ids.push(id),
  });
  const tEnd = Date.now();
  const cpu1 = childCpu();
  const machine1 = machineCpu();
  const parts1 = cpuByComponent(childLabelOf);
  assertAlive();
  const secs = (tEnd - t0) / 1000;
  process.stderr.write(
    `    pipeline: checkout answers ${JSON.stringify(load.byStatus)} ${JSON.stringify(load.byError)}, errors ${load.errors}; machine busy ${Math.round(100 * busyShare(machine0, machine1))} %; cpu % of one core: ${Object.entries(
      cpu1,
    )
      .map(([k, v]) => `${k} ${Math.round((100 * (v - (cpu0[k] ?? 0))) / secs)}`)
      .join(', ')}\n    whole machine, % of one core: ${componentShares(parts0, parts1, secs)}\n`,
  );
  // The backlog drains before the latency is read, so the latency is every order's, not only
  // that of the orders that made it in time.
  await allShipped(p);
  process.stderr.write(
    `    database per order (placed to shipped): ${perOrder(pg0, await pgCounters(p), ids.length)}\n`,
  );
  process.stderr.write(`    pipeline stages p50/p99 ms: ${await stageBreakdown(p, ids)}\n`);
  const r = await p.db.pool.query<{ placed: number; done: number | null }>(
    `SELECT extract(epoch FROM o.created_at) * 1000 AS placed, extract(epoch FROM t.recorded_at) * 1000 AS done
     FROM orders o LEFT JOIN order_timeline t ON t.order_id = o.id AND t.type = 'shipping.created'
     WHERE o.id = ANY($1::uuid[])`,
    [ids],
  );
  return sustainedResult({
    label: 'pipeline',
    rate,
    seconds: E2E_SECONDS,
    errors: load.attempted - load.placed,
    orders: r.rows.map((x) => {
      const placed = Number(x.placed);
      const done = x.done === null ? undefined : Number(x.done);
      return { placed, done, ms: done === undefined ? undefined : done - placed };
    }),
    t0,
    tEnd,
    machine0,
    machine1,
    idle,
  });
}

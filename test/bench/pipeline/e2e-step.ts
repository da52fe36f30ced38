import { runLoad } from '../../../src/devstack/load/load.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { busyShare, machineCpu } from './cpu.js';
import { sleep } from './pacing.js';
import { assertAlive, childCpu } from './processes.js';
import { stageBreakdown } from './progress.js';
import { stepResult, type StepResult } from './ramp.js';
import { E2E_GRACE_MS, E2E_STEP_MS } from './settings.js';

/** One step of the e2e ramp through the pipeline: checkout at `rate` for a step, then its grace. */
export async function e2eStep(p: TestPipeline, url: string, rate: number, idle: number): Promise<StepResult> {
  const ids: string[] = [];
  const cpu0 = childCpu();
  const machine0 = machineCpu();
  const t0 = Date.now();
  const load = await runLoad({
    url,
    ratePerSecond: rate,
    durationMs: E2E_STEP_MS,
    outOfStockRatio: 0,
    declineRatio: 0,
    onOrder: (id) => ids.push(id),
  });
  const tEnd = Date.now();
  const cpu1 = childCpu();
  const machine1 = machineCpu();
  await sleep(E2E_GRACE_MS);
  const machine2 = machineCpu();
  assertAlive();
  // Latency: checkout transaction start (orders.created_at) → the saga recording shipping.created
  // (consumed from Kafka). Throughput: shipping.created recorded per second while the step ran,
  // after its first 3 s.
  const lat = await p.db.pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM t.recorded_at - o.created_at) * 1000 AS ms FROM orders o
     JOIN order_timeline t ON t.order_id = o.id AND t.type = 'shipping.created' WHERE o.id = ANY($1::uuid[])`,
    [ids],
  );
  const done = await p.db.pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM order_timeline WHERE type = 'shipping.created' AND recorded_at >= $1 AND recorded_at < $2",
    [new Date(t0 + 3000), new Date(tEnd)],
  );
  const secs = (tEnd - t0) / 1000;
  // While the load ran: the machine's busy share (all cores; the rest of it is PostgreSQL, Kafka
  // and this benchmark's own load generator) and each pipeline process's share of one core.
  const busy = 100 * busyShare(machine0, machine1);
  process.stderr.write(
    `    step ${rate}/s stages p50/p99 ms: ${await stageBreakdown(p, ids)}\n    machine busy ${Math.round(busy)} %; cpu % of one core: ${Object.entries(
      cpu1,
    )
      .map(([k, v]) => `${k} ${Math.round((100 * (v - (cpu0[k] ?? 0))) / secs)}`)
      .join(', ')}\n`,
  );
  return stepResult({
    rate,
    placed: load.placed,
    errors: load.attempted - load.placed,
    latencies: lat.rows.map((r) => Number(r.ms)),
    completed: Number(done.rows[0]?.n ?? 0),
    t0,
    tEnd,
    machine0,
    machine2,
    idle,
  });
}

import { loadConfig } from '../../../src/config.js';
import { PrivatePostgres } from '../../../src/devstack/chaos/private-postgres.js';
import { runLoad } from '../../../src/devstack/load/load.js';
import { serviceNames } from '../../../src/runtime/services.js';
import { startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import { median, type Benchmark, type Sample } from '../harness.js';
import { assertAlive, spawnOrderbus, supervisedBenchmark } from './processes.js';
import { warmUp } from './progress.js';
import { spawnCheckout, spawnProviders } from './services.js';

/**
 * soak: the whole pipeline (every service of `orderbus run`, the retention service among them)
 * at 50 orders/s for ORDERBUS_BENCH_SOAK_MINUTES (default 20) with a short retention period (a
 * quarter of the soak), sampling every minute the rows and total size (pg_total_relation_size,
 * indexes and TOAST included) of the tables retention prunes and of the two it keeps. The pruned
 * tables must level off (size at the end ≈ size half-way) while orders grows linearly, and
 * checkout must not slow down (p99 in the last minute against the first).
 *
 * On a private PostgreSQL 15 cluster (initdb defaults, so autovacuum on, as in production): the
 * shared server here runs with autovacuum off, where a deleted row's space is never reused and no
 * table can level off, and it has too few connections free for every service.
 */

const MINUTES = Number(process.env.ORDERBUS_BENCH_SOAK_MINUTES ?? 20);
const RETENTION_MINUTES = Math.max(1, Math.round(MINUTES / 4));
const MID = Math.max(1, Math.round(MINUTES / 2));
const RATE = 50;
const PRUNED = ['inbox', 'outbox', 'checkout_requests', 'provider_requests'] as const;
const KEPT = ['order_timeline', 'orders'] as const;
const TABLES = [...PRUNED, ...KEPT];
const cmd = 'npm run bench -- soak';

const IN_FLIGHT =
  "SELECT count(*)::int AS n FROM orders WHERE status IN ('pending', 'paid', 'reserved', 'compensating')";

interface TableSample {
  rows: number;
  bytes: number;
  dead: number;
}

interface Minute {
  minute: number;
  tables: Record<string, TableSample>;
  p99?: number;
  placed?: number;
  answers?: Record<string, number>;
  /** Requests that got no answer. */
  errors?: number;
  /** Orders still on their way through the pipeline: it keeps up when this stays small. */
  inFlight: number;
}

async function sampleTables(p: TestPipeline): Promise<Record<string, TableSample>> {
  const out: Record<string, TableSample> = {};
  for (const t of TABLES) {
    // count(*) rather than the statistics' estimate: the figure is the rows retention left.
    const r = await p.db.pool.query<{ rows: number; bytes: string; dead: number | null }>(
      `SELECT (SELECT count(*)::int FROM ${t}) AS rows, pg_total_relation_size(to_regclass($1)) AS bytes,
         (SELECT n_dead_tup::int FROM pg_stat_user_tables WHERE relid = to_regclass($1)) AS dead`,
      [t],
    );
    const row = r.rows[0];
    out[t] = { rows: row?.rows ?? 0, bytes: Number(row?.bytes ?? 0), dead: row?.dead ?? 0 };
  }
  return out;
}

function logMinute(m: Minute): void {
  const tables = TABLES.map((t) => {
    const s = m.tables[t] as TableSample;
    return `${t} ${s.rows} rows ${(s.bytes / 2 ** 20).toFixed(1)} MiB (${s.dead} dead)`;
  }).join(', ');
  const load =
    m.p99 === undefined
      ? ''
      : ` checkout p99 ${m.p99.toFixed(1)} ms, ${JSON.stringify(m.answers)}, ${m.errors} unanswered;`;
  process.stderr.write(`    minute ${m.minute}:${load} ${m.inFlight} orders in flight; ${tables}\n`);
}

export function soakBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  let pg: PrivatePostgres | undefined;
  let url = '';
  const before = process.env.ORDERBUS_DATABASE_URL;
  return supervisedBenchmark({
    name: 'soak',
    description: `the whole pipeline (every service of \`orderbus run\`, retention on, in two processes beside checkout-api and the providers; private PostgreSQL 15 with autovacuum on) at ${RATE} orders/s for ${MINUTES} min with retention.minutes=${RETENTION_MINUTES} (a pass every ${RETENTION_MINUTES * 6} s); table sizes are pg_total_relation_size; reference: the same figure at minute ${MID}`,
    runs: 1,
    async setup() {
      pg = await PrivatePostgres.create(loadConfig());
      // Every later loadConfig, here and in each child, reaches the private cluster.
      process.env.ORDERBUS_DATABASE_URL = pg.url();
      p = await startTestPipeline({ label: 'bench-soak', partitions: 12 });
      p.env.ORDERBUS_RETENTION_MINUTES = String(RETENTION_MINUTES);
      await spawnProviders(p);
      url = (await spawnCheckout(p)).url;
      const rest = serviceNames().filter((n) => n !== 'providers' && n !== 'checkout-api');
      spawnOrderbus(p, ['run', ...rest.flatMap((s) => ['--service', s])], {
        ORDERBUS_DATABASE_PROCESS_CONNECTIONS: '40',
      });
      await warmUp(p, url);
    },
    async cleanup() {
      await p?.stop();
      await pg?.remove();
      if (before === undefined) delete process.env.ORDERBUS_DATABASE_URL;
      else process.env.ORDERBUS_DATABASE_URL = before;
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const pipeline = p;
      const inFlight = async () => (await pipeline.db.pool.query<{ n: number }>(IN_FLIGHT)).rows[0]?.n ?? 0;
      const minutes: Minute[] = [
        { minute: 0, tables: await sampleTables(pipeline), inFlight: await inFlight() },
      ];
      logMinute(minutes[0] as Minute);
      for (let i = 1; i <= MINUTES; i++) {
        const s = await runLoad({ url, ratePerSecond: RATE, durationMs: 60_000 });
        assertAlive();
        const m: Minute = {
          minute: i,
          tables: await sampleTables(pipeline),
          p99: s.latencyMs.p99,
          placed: s.placed,
          answers: s.byStatus,
          errors: s.errors,
          inFlight: await inFlight(),
        };
        logMinute(m);
        minutes.push(m);
      }
      return soakFigures(minutes);
    },
  });
}

function soakFigures(minutes: Minute[]): Sample[] {
  const at = (i: number) => minutes[i] as Minute;
  const mid = at(MID);
  const end = at(minutes.length - 1);
  const first = at(1);
  const figures: Sample[] = [];
  for (const t of TABLES) {
    const kept = (KEPT as readonly string[]).includes(t);
    const goal = kept ? 'kept: grows with orders (≈ 50 %)' : 'levels off: ≈ 100 %';
    const m = (what: 'size' | 'rows') => {
      const v = (x: Minute) =>
        what === 'size' ? (x.tables[t]?.bytes ?? 0) / 2 ** 20 : (x.tables[t]?.rows ?? 0);
      return {
        metric: `${t} ${what} at minute ${end.minute}`,
        value: v(end),
        unit: what === 'size' ? 'MiB' : 'rows',
        better: 'lower' as const,
        reference: { name: `minute ${mid.minute}`, value: v(mid) },
        goal,
        command: cmd,
      };
    };
    figures.push(m('size'), m('rows'));
  }
  figures.push({
    metric: `checkout p99 at ${RATE}/s in minute ${end.minute}`,
    value: end.p99 ?? 0,
    unit: 'ms',
    better: 'lower',
    reference: { name: 'minute 1', value: first.p99 ?? 0 },
    goal: 'no slower than minute 1 (≥ 100 %)',
    command: cmd,
  });
  // Nothing is old enough to prune before minute RETENTION_MINUTES; from then on every pass deletes.
  const p99s = (from: number, to: number) => minutes.slice(from, to + 1).map((x) => x.p99 ?? 0);
  figures.push({
    metric: `checkout p99 at ${RATE}/s, median of minutes ${RETENTION_MINUTES + 1}–${end.minute} (retention pruning)`,
    value: median(p99s(RETENTION_MINUTES + 1, end.minute)),
    unit: 'ms',
    better: 'lower',
    reference: {
      name: `median of minutes 1–${RETENTION_MINUTES} (nothing old enough to prune)`,
      value: median(p99s(1, RETENTION_MINUTES)),
    },
    goal: 'retention never slows checkout (≥ 100 %)',
    command: cmd,
  });
  const notPlaced = minutes.reduce(
    (n, x) =>
      n +
      (x.errors ?? 0) +
      Object.entries(x.answers ?? {}).reduce((k, [s, c]) => k + (s === '201' ? 0 : c), 0),
    0,
  );
  figures.push({
    metric: 'checkout requests not answered 201 over the soak',
    value: notPlaced,
    unit: 'requests',
    better: 'lower',
    goal: '0',
    command: cmd,
  });
  return figures;
}

import type { TestPipeline } from '../../support/pipeline.js';

/**
 * PostgreSQL's own counters (no extension needed) around a benchmark run: transactions committed
 * and rolled back in the database, and per table of the pipeline's schema the rows inserted,
 * updated, deleted and the index and sequential scans. Read per order they say how much database
 * work an order costs, and where.
 */

export type PgCounters = Record<string, number>;

export async function pgCounters(p: TestPipeline): Promise<PgCounters> {
  // Each query is a transaction of its own, so each reads the statistics afresh (they are cached
  // only until a transaction ends). A backend publishes its counts when its transaction ends, at
  // most once a second.
  const db = await p.db.pool.query<{ commits: string; rollbacks: string }>(
    'SELECT xact_commit AS commits, xact_rollback AS rollbacks FROM pg_stat_database WHERE datname = current_database()',
  );
  const out: PgCounters = {
    'tx committed': Number(db.rows[0]?.commits ?? 0),
    'tx rolled back': Number(db.rows[0]?.rollbacks ?? 0),
  };
  const t = await p.db.pool.query<{
    relname: string;
    ins: string;
    upd: string;
    del: string;
    idx: string | null;
    seq: string;
  }>(
    `SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del, idx_scan AS idx, seq_scan AS seq
     FROM pg_stat_user_tables WHERE schemaname = current_schema()`,
  );
  for (const r of t.rows) {
    out[`${r.relname} ins`] = Number(r.ins);
    out[`${r.relname} upd`] = Number(r.upd);
    out[`${r.relname} del`] = Number(r.del);
    out[`${r.relname} idx scans`] = Number(r.idx ?? 0);
    out[`${r.relname} seq scans`] = Number(r.seq);
  }
  return out;
}

/** Each counter's growth from `a` to `b` per order (counters that did not move left out). */
export function perOrder(a: PgCounters, b: PgCounters, orders: number): string {
  return Object.entries(b)
    .map(([k, v]) => [k, (v - (a[k] ?? 0)) / Math.max(1, orders)] as const)
    .filter(([, x]) => x >= 0.01)
    .map(([k, x]) => `${k} ${x.toFixed(2)}`)
    .join(', ');
}

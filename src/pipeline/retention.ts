import type { Pool } from '../adapters/postgres.js';
import { errorMessage } from '../errors.js';
import { backoffDelay, pause, type BackoffPolicy } from '../retry.js';
import { PooledService } from '../runtime/service.js';

/**
 * The tables that grow with every order, and the rows of each that are done with: inbox rows
 * (their events are long past redelivery), sent outbox rows (unsent and parked rows are never
 * pruned), checkout requests (an Idempotency-Key older than this is not replayed) and provider
 * requests (likewise). Not order_timeline: it is part of the order (the history `orderbus trace`
 * and GET /api/orders/:id show), and orders are kept; it grows with them.
 */
const TABLES = [
  { table: 'inbox', age: 'processed_at' },
  { table: 'outbox', age: 'sent_at' },
  { table: 'checkout_requests', age: 'created_at' },
  { table: 'provider_requests', age: 'created_at' },
] as const;

export interface RetentionOptions {
  /** Rows per DELETE: small, so no statement holds locks or I/O long enough to slow checkout. */
  batchSize?: number;
  /** Pause between two batches. */
  pauseMs?: number;
  /** Pause between two passes over every table. */
  intervalMs?: number;
}

/** The retention period: `minutes` when set (short soaks and drills), else `days`. */
export interface RetentionPeriod {
  days: number;
  minutes?: number;
}

export function retentionMinutes(period: RetentionPeriod): number {
  return period.minutes ?? period.days * 24 * 60;
}

/**
 * Pause between two passes: a tenth of the period, at least 5 s and at most 10 min — a week's
 * period is pruned every 10 min, a 5-minute one every 30 s (a table then holds at most 1.1 periods).
 */
export function passIntervalMs(period: RetentionPeriod): number {
  return Math.min(600_000, Math.max(5000, (retentionMinutes(period) * 60_000) / 10));
}

/** Pauses after a failed pass (the database away): 5 s doubling to 5 min. */
const RETENTION_RETRY: BackoffPolicy = { initialMs: 5000, maxMs: 300_000, jitter: 0.2 };

/**
 * Deletes the rows older than `period` from every table, oldest first, `batchSize` rows per
 * statement with a pause between; returns the rows deleted per table. Stops early when aborted.
 */
export async function pruneOnce(
  pool: Pool,
  period: RetentionPeriod,
  options: RetentionOptions & { signal?: AbortSignal } = {},
): Promise<Record<string, number>> {
  const batchSize = options.batchSize ?? 500;
  const minutes = retentionMinutes(period);
  const deleted: Record<string, number> = {};
  for (const { table, age } of TABLES) {
    deleted[table] = 0;
    for (;;) {
      if (options.signal?.aborted) return deleted;
      // `age < cutoff` is false for NULL: an unsent outbox row (sent_at NULL) is never selected.
      const r = await pool.query(
        `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM ${table} WHERE ${age} < now() - make_interval(mins => $1)
           ORDER BY ${age} LIMIT $2))`,
        [minutes, batchSize],
      );
      deleted[table] += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < batchSize) break;
      await pause(options.pauseMs ?? 100, options.signal);
    }
  }
  return deleted;
}

/**
 * Prunes what is older than `retention.minutes` (or `retention.days`) every `intervalMs`
 * (default passIntervalMs: 10 min for any period of 100 min or more).
 */
export class RetentionService extends PooledService<RetentionOptions> {
  readonly name = 'retention';
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  passes = 0;

  start(): Promise<void> {
    this.loop = this.run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const deleted = await pruneOnce(this.pool, this.config.retention, { ...this.options, signal });
        this.passes++;
        failures = 0;
        if (Object.values(deleted).some((n) => n > 0)) this.ctx.log('retention.pruned', deleted);
      } catch (e) {
        failures++;
        if (failures % 5 === 1)
          this.ctx.log('retention.error', { attempt: failures, error: errorMessage(e) });
        await pause(backoffDelay(failures, RETENTION_RETRY), signal);
        continue;
      }
      await pause(this.options.intervalMs ?? passIntervalMs(this.config.retention), signal);
    }
  }
}

import type { Pool } from '../adapters/postgres.js';
import { errorMessage } from '../errors.js';
import { backoffDelay, pause, type BackoffPolicy } from '../retry.js';
import { PooledService } from '../runtime/service.js';

/**
 * The tables that grow with every order, and the rows of each that are done with: inbox rows
 * (their events are long past redelivery), sent outbox rows (unsent and parked rows are never
 * pruned), checkout requests (an Idempotency-Key older than this is not replayed) and provider
 * requests (likewise).
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

/** Pauses after a failed pass (the database away): 5 s doubling to 5 min. */
const RETENTION_RETRY: BackoffPolicy = { initialMs: 5000, maxMs: 300_000, jitter: 0.2 };

/**
 * Deletes the rows older than `days` from every table, oldest first, `batchSize` rows per
 * statement with a pause between; returns the rows deleted per table. Stops early when aborted.
 */
export async function pruneOnce(
  pool: Pool,
  days: number,
  options: RetentionOptions & { signal?: AbortSignal } = {},
): Promise<Record<string, number>> {
  const batchSize = options.batchSize ?? 500;
  const deleted: Record<string, number> = {};
  for (const { table, age } of TABLES) {
    deleted[table] = 0;
    for (;;) {
      if (options.signal?.aborted) return deleted;
      // `age < cutoff` is false for NULL: an unsent outbox row (sent_at NULL) is never selected.
      const r = await pool.query(
        `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM ${table} WHERE ${age} < now() - make_interval(days => $1)
           ORDER BY ${age} LIMIT $2))`,
        [days, batchSize],
      );
      deleted[table] += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < batchSize) break;
      await pause(options.pauseMs ?? 100, options.signal);
    }
  }
  return deleted;
}

/** Prunes every `intervalMs` (default 10 min) what is older than `retention.days`. */
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
        const deleted = await pruneOnce(this.pool, this.config.retention.days, { ...this.options, signal });
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
      await pause(this.options.intervalMs ?? 600_000, signal);
    }
  }
}

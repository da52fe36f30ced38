import type { Pool } from '../adapters/postgres.js';

/**
 * A token bucket in PostgreSQL shared by every instance of a worker: the email provider's rate
 * limit holds however many email workers run. One short UPDATE per token.
 */
export class SharedRateLimiter {
  constructor(
    private readonly pool: Pool,
    private readonly name: string,
    private readonly perSecond: number,
    private readonly burst = Math.max(1, perSecond),
  ) {}

  async acquire(signal?: AbortSignal): Promise<void> {
    await this.pool.query('INSERT INTO rate_limits (name, tokens) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      this.name,
      this.burst,
    ]);
    for (;;) {
      const r = await this.pool.query(
        `UPDATE rate_limits
           SET tokens = LEAST($2::float8, tokens + EXTRACT(EPOCH FROM (clock_timestamp() - updated_at)) * $3::float8) - 1,
               updated_at = clock_timestamp()
         WHERE name = $1 AND LEAST($2::float8, tokens + EXTRACT(EPOCH FROM (clock_timestamp() - updated_at)) * $3::float8) >= 1`,
        [this.name, this.burst, this.perSecond],
      );
      if (r.rowCount === 1) return;
      if (signal?.aborted) throw new Error('aborted');
      await new Promise((res) => setTimeout(res, Math.max(5, 1000 / this.perSecond)));
    }
  }
}

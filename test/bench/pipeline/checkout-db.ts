import { createPool, type Pool } from '../../../src/adapters/postgres.js';
import { sampleOrder } from '../../../src/devstack/load/load.js';
import { checkoutRow, placeOrders } from '../../../src/pipeline/place-orders.js';
import { validateCheckout } from '../../../src/pipeline/checkout-validate.js';
import { OutboxWaker } from '../../../src/pipeline/outbox.js';
import { testDatabase } from '../../support/database.js';
import { testNamespace } from '../../support/namespace.js';
import type { Benchmark, Sample } from '../harness.js';
import { closedLoop } from './pacing.js';
import { RUNS } from './settings.js';

/**
 * checkout-db: the database half of a checkout at the checkout pool's concurrency (10), without
 * HTTP or a load generator (which on this shared machine measure themselves as much as us). Ours:
 * PLACE_ORDERS_SQL for one order plus the OutboxWaker, as checkout-api runs them when checkouts
 * do not overlap (overlapping ones share a statement there). Reference, same schema and run:
 * the transaction checkout ran before (BEGIN, order, outbox row with a per-row NOTIFY trigger,
 * COMMIT). Both notify a channel nobody listens on, so no relay is woken.
 */

const CHECKOUT_DB_CONCURRENCY = 10;
const CHECKOUT_DB_MS = Number(process.env.ORDERBUS_BENCH_CHECKOUT_DB_MS ?? 6000);
const cmd = 'npm run bench -- checkout-db';

function order(n: number) {
  const v = validateCheckout(sampleOrder('normal', n));
  if (!v.ok) throw new Error('sample order invalid');
  return v.value;
}

/** The transaction checkout ran before: BEGIN, the order, its outbox row (a per-row NOTIFY), COMMIT. */
async function placeOrderBefore(pool: Pool, n: number): Promise<void> {
  const { params } = checkoutRow(order(n));
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query(
      `INSERT INTO orders (id, customer_id, email, status, total_cents, currency, items, shipping_address, payment_method, correlation_id)
       VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9)`,
      [params[1], ...params.slice(3, 11)],
    );
    await c.query(
      'INSERT INTO outbox (shard, event_id, order_id, type, envelope) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING',
      [params[11], params[12], params[1], 'order.placed', params[13]],
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

export function checkoutDbBenchmark(): Benchmark {
  let db: Awaited<ReturnType<typeof testDatabase>> | undefined;
  let pool: Pool | undefined;
  return {
    name: 'checkout-db',
    description: `checkout's database work, ${CHECKOUT_DB_CONCURRENCY} connections in a closed loop for ${CHECKOUT_DB_MS / 1000} s: the one-statement checkout (outbox NOTIFY off, one coalesced wake-up) vs the transaction it replaced (BEGIN, order, outbox row with a per-row NOTIFY, COMMIT)`,
    runs: RUNS,
    async setup() {
      db = await testDatabase(testNamespace('bench-cdb'));
      pool = createPool(db.config, { max: CHECKOUT_DB_CONCURRENCY + 1 });
      await pool.query(`CREATE OR REPLACE FUNCTION bench_row_notify() RETURNS trigger AS $$
        BEGIN PERFORM pg_notify('orderbus_bench_nobody', NEW.shard::text); RETURN NEW; END $$ LANGUAGE plpgsql`);
    },
    async teardown() {
      await pool?.end();
      await db?.drop();
    },
    async run() {
      const p = pool;
      if (!p) throw new Error('setup did not run');
      let n = 0;
      await p.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify_statement');
      await p.query(
        'CREATE TRIGGER bench_row_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION bench_row_notify()',
      );
      let before;
      try {
        before = await closedLoop(CHECKOUT_DB_CONCURRENCY, CHECKOUT_DB_MS, () => placeOrderBefore(p, n++));
      } finally {
        await p.query('DROP TRIGGER bench_row_notify ON outbox');
        await p.query('ALTER TABLE outbox ENABLE TRIGGER outbox_notify_statement');
      }
      const waker = new OutboxWaker(p, () => undefined);
      const ours = await closedLoop(CHECKOUT_DB_CONCURRENCY, CHECKOUT_DB_MS, async () => {
        await placeOrders(p, [checkoutRow(order(n++)).params]);
        waker.poke();
      });
      await waker.idle();
      process.stderr.write(`    before ${JSON.stringify(before)}\n    ours ${JSON.stringify(ours)}\n`);
      const fig = (
        metric: string,
        value: number,
        ref: number,
        unit: string,
        better: 'higher' | 'lower',
      ): Sample => ({
        metric,
        value,
        unit,
        better,
        reference: { name: 'the transaction it replaced', value: ref },
        command: cmd,
      });
      return [
        fig(
          'checkouts committed per second (10 connections)',
          ours.perSecond,
          before.perSecond,
          'checkouts/s',
          'higher',
        ),
        fig('checkout database p50 (10 connections)', ours.p50, before.p50, 'ms', 'lower'),
        fig('checkout database p99 (10 connections)', ours.p99, before.p99, 'ms', 'lower'),
      ];
    },
  };
}

import { createPool, type Pool, type PoolClient } from '../../adapters/postgres.js';
import { OrderbusError, errorMessage } from '../../errors.js';
import { componentHealth } from '../../ops/health.js';
import type { DrillDatabase } from './private-postgres.js';
import { invariant, type Invariant } from './report.js';
import type { DrillContext, DrillFigures, Scenario } from './scenario.js';

/**
 * The database drills. Each runs the services on a private PostgreSQL reached through the TCP
 * fault proxy (so the shared server is never touched), holds the fault for at most
 * `DATABASE_FAULT_MS` of the window, and checks beyond the common invariants that checkout
 * answered every request (201 or 503), that no service process exited, and that everything
 * settled within `SETTLE_AFTER_RETURN_MS` of the database returning.
 */
export const DATABASE_FAULT_MS = 15_000;
export const SETTLE_AFTER_RETURN_MS = 30_000;

interface Held {
  /** Undoes the fault; idempotent. */
  undo: () => Promise<void>;
  /** When the database was back (epoch ms). */
  returnedAt?: number;
}

const held = new WeakMap<DrillContext, Held>();

function databaseOf(ctx: DrillContext): DrillDatabase {
  if (!ctx.database)
    throw new OrderbusError('DRILL_NO_DATABASE', 'a database drill ran without its private database', {
      hint: 'orderbus chaos list',
    });
  return ctx.database;
}

/**
 * Applies a fault, holds it for DATABASE_FAULT_MS (or the shorter window), and undoes it.
 * `during` runs once the fault is on, beside the hold (it must end well within it).
 */
export async function hold(
  ctx: DrillContext,
  apply: () => Promise<() => Promise<void>>,
  during?: () => Promise<void>,
): Promise<void> {
  const entry: Held = { undo: async () => undefined };
  held.set(ctx, entry);
  const undo = await apply();
  let undone: Promise<void> | undefined;
  entry.undo = () =>
    (undone ??= undo().then(() => {
      entry.returnedAt = Date.now();
    }));
  const beside = during?.().catch((e: unknown) =>
    ctx.note(`check during the fault failed: ${errorMessage(e)}`),
  );
  await ctx.sleep(Math.min(DATABASE_FAULT_MS, ctx.faultWindowMs));
  await beside;
  await entry.undo();
}

/**
 * What `orderbus status` shows of the services' database while the fault is on: the same check
 * (bounded by HEALTH_TIMEOUT_MS, so it ends long before the fault does), as an observation.
 */
async function observeStatus(ctx: DrillContext): Promise<void> {
  const c = ctx.pipeline.config;
  // The drill's own pools keep their error listeners whatever the services are given.
  const [pg] = await componentHealth({ ...c, database: { ...c.database, unsafeNoErrorListeners: false } }, [
    'postgres',
  ]);
  const shown = pg ? `${pg.status}${pg.reason ? ` (${pg.reason})` : ''}` : 'nothing';
  ctx.observe('status during the fault: postgres', shown);
  ctx.note(`status during the fault shows postgres ${shown}`);
}

export async function heal(ctx: DrillContext): Promise<void> {
  await held.get(ctx)?.undo();
}

/** Opens connections straight to the server until it refuses one (too many clients). */
async function takeEveryConnection(
  db: DrillDatabase,
  ctx: DrillContext,
): Promise<{ pool: Pool; clients: PoolClient[] }> {
  const pool = createPool(db.directConfig(ctx.pipeline.config), { max: 1000, connectionTimeoutMillis: 5000 });
  const clients: PoolClient[] = [];
  for (;;) {
    try {
      clients.push(await pool.connect());
    } catch (e) {
      ctx.note(`took ${clients.length} connections; the next was refused: ${errorMessage(e)}`);
      return { pool, clients };
    }
  }
}

export function databaseChecks(ctx: DrillContext, f: DrillFigures, what = 'the database'): Invariant[] {
  const answered = (f.faultStatuses['201'] ?? 0) + (f.faultStatuses['503'] ?? 0);
  const other = Object.values(f.faultStatuses).reduce((n, c) => n + c, 0) - answered + f.faultErrors;
  const returnedAt = held.get(ctx)?.returnedAt;
  const settleMs = f.settledAt !== null && returnedAt !== undefined ? f.settledAt - returnedAt : null;
  const exits = ctx.pipeline.unexpected.length;
  return [
    invariant(
      'checkout answered 201 or 503 during the fault',
      other,
      other === 0,
      `${JSON.stringify(f.faultStatuses)}, ${f.faultErrors} without an answer`,
    ),
    invariant('service processes exited', exits, exits === 0, ctx.pipeline.unexpected.join('; ') || 'none'),
    invariant(
      `settled within ${SETTLE_AFTER_RETURN_MS / 1000} s of ${what} returning`,
      settleMs === null ? -1 : Math.round(settleMs),
      settleMs !== null && settleMs <= SETTLE_AFTER_RETURN_MS,
      settleMs === null ? 'did not settle' : `${(settleMs / 1000).toFixed(1)} s after it returned`,
    ),
  ];
}

const common = {
  privateDatabase: true,
  heal,
  checks: (ctx: DrillContext, _v: unknown, f: DrillFigures) => databaseChecks(ctx, f),
} satisfies Partial<Scenario>;

export const DATABASE_SCENARIOS: Scenario[] = [
  {
    ...common,
    name: 'postgres-restart',
    summary: 'PostgreSQL is stopped (every session ended, 57P01), held down for 15 s, and started again',
    proves:
      'every service rides out a database restart without a process restart; checkout answers 503 meanwhile',
    inject: (ctx) =>
      hold(
        ctx,
        async () => {
          const server = databaseOf(ctx).server;
          await server.stop('fast');
          ctx.note('PostgreSQL stopped');
          return async () => {
            await server.start();
            ctx.note('PostgreSQL started; taking connections');
          };
        },
        () => observeStatus(ctx),
      ),
  },
  {
    ...common,
    name: 'postgres-stall',
    summary: 'the database is black-holed for 15 s (TCP fault proxy: connections open, nothing answers)',
    proves: 'timeouts free every connection a stall holds; checkout answers 503 instead of hanging',
    inject: (ctx) =>
      hold(
        ctx,
        async () => {
          const proxy = databaseOf(ctx).proxy;
          proxy.setFaults({ blackhole: true });
          ctx.note('database black-holed');
          return async () => {
            proxy.heal();
            ctx.note('database answering again');
          };
        },
        () => observeStatus(ctx),
      ),
  },
  {
    ...common,
    name: 'postgres-connections',
    summary: 'another client takes every free database connection for 15 s',
    proves: 'services wait for a connection instead of failing work; nothing is dead-lettered',
    inject: (ctx) =>
      hold(ctx, async () => {
        const { pool, clients } = await takeEveryConnection(databaseOf(ctx), ctx);
        ctx.observe('connections taken', clients.length);
        return async () => {
          for (const c of clients) c.release();
          await pool.end();
          ctx.note('connections given back');
        };
      }),
  },
];

import { OrderbusError, errorMessage } from '../../errors.js';
import { DATABASE_FAULT_MS, databaseChecks, heal, hold } from './database-scenarios.js';
import type { PrivateRegistry } from './private-registry.js';
import { invariant } from './report.js';
import type { DrillContext, Scenario } from './scenario.js';

/**
 * The registry drill: the services use a private schema registry (own port, own storage
 * database), so killing it never disturbs the shared one. An unreachable registry is a transient
 * failure, so beyond the database drills' checks nothing may reach a dead-letter queue.
 */
function registryOf(ctx: DrillContext): PrivateRegistry {
  if (!ctx.registry)
    throw new OrderbusError('DRILL_NO_REGISTRY', 'the registry drill ran without its private registry', {
      hint: 'orderbus chaos list',
    });
  return ctx.registry;
}

/**
 * Services restarted while the registry is away start with empty caches: the relay must register
 * the schemas before it can encode, payment must fetch them before it can decode. Payment goes
 * first; the relay, its cache still warm, publishes on until half-way through the outage, so cold
 * payment has new records to read while the registry is away (a build that dead-letters them
 * instead of waiting is caught whatever payment had left uncommitted when it was killed).
 */
async function restartCold(ctx: DrillContext, name: string): Promise<void> {
  await ctx.pipeline.kill(name);
  ctx.note(`${name} killed -9 and restarted while the registry is down`);
  try {
    await ctx.pipeline.startProcess(name, 180_000);
    ctx.note(`${name} running again`);
  } catch (e) {
    ctx.note(`${name} did not come back: ${errorMessage(e)}`);
  }
}

export const REGISTRY_SCENARIO: Scenario = {
  name: 'registry-restart',
  summary:
    'the schema registry is killed -9, held down for 15 s, and started again; payment restarts meanwhile, the relay half-way',
  proves: 'a registry outage is transient: consumers wait and retry, nothing is dead-lettered, all settles',
  privateRegistry: true,
  heal,
  inject: async (ctx) => {
    let restarts: Promise<void> | undefined;
    await hold(ctx, async () => {
      const registry = registryOf(ctx);
      registry.kill('SIGKILL');
      ctx.note('registry killed -9');
      await ctx.sleep(2000);
      const relayLaterMs = Math.max(0, Math.min(DATABASE_FAULT_MS, ctx.faultWindowMs) / 2 - 2000);
      restarts = (async () => {
        const payment = restartCold(ctx, 'payment');
        await ctx.sleep(relayLaterMs);
        await Promise.all([payment, restartCold(ctx, 'outbox-relay')]);
      })().catch((e: unknown) => ctx.note(`restarting the services failed: ${errorMessage(e)}`));
      return async () => {
        await registry.restart();
        ctx.note('registry started again; answering');
      };
    });
    await restarts;
  },
  checks: (ctx, v, f) => [
    ...databaseChecks(ctx, f, 'the registry'),
    invariant(
      'healthy records dead-lettered',
      v.dlq.kafka + v.dlq.email + v.dlq.webhook + v.dlq.analytics,
      v.dlq.kafka + v.dlq.email + v.dlq.webhook + v.dlq.analytics === 0,
      `the drill sends no poison: order.events.dlq ${v.dlq.kafka}, task DLQs ${v.dlq.email + v.dlq.webhook + v.dlq.analytics}`,
    ),
  ],
};

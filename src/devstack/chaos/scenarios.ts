import type { OrderbusConfig } from '../../config.js';
import { ExitCode, OrderbusError, unknownNameError } from '../../errors.js';
import { EventCodec } from '../../events/codec.js';
import { nextEvent } from '../../events/codec.js';
import { redriveDlq } from '../../ops/dlq/index.js';
import type { ProviderName } from '../../providers/index.js';
import { readState } from '../stack/state.js';
import { dataDir } from '../../paths.js';
import { dlqName, topologyNames, topologyOptions } from '../../tasks/topology.js';
import { DATABASE_SCENARIOS } from './database-scenarios.js';
import { RABBIT_NODE_KILL } from './rabbit-scenarios.js';
import { REGISTRY_SCENARIO } from './registry-scenarios.js';
import { invariant } from './report.js';
import type { DrillContext, Scenario } from './scenario.js';
import { restartKafkaNode, signalKafkaNode, startRabbitmq, stopRabbitmq } from './stack-faults.js';

async function faults(ctx: DrillContext, name: ProviderName, f: Record<string, unknown>): Promise<void> {
  await ctx.pipeline.providers[name].setFaults(f);
  ctx.note(`${name} provider faults ${JSON.stringify(f)}`);
}

/** A drill that gives one simulated provider `faults` and heals by clearing them. */
const providerFault = ({
  provider,
  faults: f,
  ...scenario
}: Omit<Scenario, 'inject' | 'heal'> & {
  provider: ProviderName;
  faults: Record<string, unknown>;
}): Scenario => ({
  ...scenario,
  inject: (ctx) => faults(ctx, provider, f),
  heal: (ctx) => faults(ctx, provider, {}),
});

function queueName(ctx: DrillContext, queue: 'email.tasks' | 'webhook.tasks'): string {
  const c = ctx.pipeline.config;
  return dlqName(topologyNames(topologyOptions(c)).queues[queue]);
}

/** Redrives a task DLQ of the drill pipeline, the way `orderbus dlq redrive … --execute` does. */
async function redriveTasks(
  ctx: DrillContext,
  queue: 'email.tasks' | 'webhook.tasks',
  fixUrl?: { from: string; to: string },
): Promise<boolean> {
  const name = queueName(ctx, queue);
  const dry = await redriveDlq(ctx.ops, name, fixUrl ? { fixUrl } : {});
  ctx.observe(`${queue}.dlq before remedy`, dry.selected);
  if (dry.selected === 0) return false;
  const r = await redriveDlq(ctx.ops, name, {
    ...(fixUrl ? { fixUrl } : {}),
    execute: true,
    command: `dlq redrive ${name}${fixUrl ? ` --fix-url ${fixUrl.from}=${fixUrl.to}` : ''} --execute`,
  });
  ctx.note(`redrove ${r.redriven} of ${dry.selected} from ${name} (${r.remaining} left)`);
  ctx.observe(`${queue}.dlq redriven`, r.redriven);
  return true;
}

function requireLocalStack(config: OrderbusConfig, what: string): void {
  if (!readState(dataDir(config)))
    throw new OrderbusError('STACK_NOT_STARTED', `${what} needs a stack started by orderbus`, {
      hint: 'orderbus stack up',
    });
}

/** The broker leading most of the drill topic's partitions (killing it moves the most leaders). */
async function busiestBroker(ctx: DrillContext): Promise<number> {
  const admin = await ctx.ops.admin();
  const meta = await admin.fetchTopicMetadata({ topics: [ctx.pipeline.config.topics.orderEvents] });
  const count = new Map<number, number>();
  for (const p of meta.topics[0]?.partitions ?? []) count.set(p.leader, (count.get(p.leader) ?? 0) + 1);
  return [...count.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 1;
}

const killed = new WeakMap<DrillContext, number[]>();

async function poisonRecords(ctx: DrillContext, n: number): Promise<void> {
  const c = ctx.pipeline.config;
  const codec = EventCodec.fromConfig(c);
  const sample = await codec.encode(
    nextEvent(
      { eventId: '00000000-0000-4000-8000-000000000000', orderId: 'poison', correlationId: 'poison' },
      'order.cancelled',
      'chaos-drill',
      { reason: 'poison template' },
    ),
  );
  const wireHeader = sample.subarray(0, 5);
  const messages = [];
  for (let i = 0; i < n; i++) {
    messages.push({ key: `poison-undecodable-${i}`, value: Buffer.from(`not an event ${i} \u0000\u00ff`) });
    messages.push({
      key: `poison-invalid-${i}`,
      value: Buffer.concat([
        wireHeader,
        Buffer.from(JSON.stringify({ type: 'order.cancelled', eventId: i })),
      ]),
    });
  }
  const producer = await ctx.ops.producer();
  await producer.send({ topic: c.topics.orderEvents, acks: -1, messages });
  ctx.observe('poison records injected', messages.length);
  ctx.note(`injected ${n} undecodable and ${n} schema-invalid records`);
}

export const SCENARIOS: Scenario[] = [
  providerFault({
    name: 'shipping-slow',
    summary: 'the shipping API answers in 8–12 s',
    proves: 'checkout never waits on a provider; orders complete once labels come back',
    settleExtraMs: 30_000,
    provider: 'shipping',
    faults: { latencyMs: [8000, 12000] },
    checks: (_ctx, _v, f) => [
      invariant(
        'checkout does not wait on shipping',
        Math.round(f.faultP99),
        f.faultP99 < 8000,
        `checkout p99 ${f.faultP99.toFixed(0)} ms during the fault; the provider took 8–12 s`,
      ),
    ],
  }),
  providerFault({
    name: 'email-down',
    summary: 'the e-mail provider answers 503 to everything',
    proves: 'an outage loses nothing: tasks retry, dead-letter, and are redriven once',
    provider: 'email',
    faults: { down: '503' },
    remedy: (ctx) => redriveTasks(ctx, 'email.tasks'),
    next: (ctx) => [
      `after an outage longer than the retry tiers: orderbus dlq redrive ${ctx.config.rabbitPrefix}email.tasks.dlq --execute`,
    ],
  }),
  providerFault({
    name: 'payment-timeout',
    summary: 'the payment gateway answers after the 10 s client timeout (and still charges)',
    proves: 'a timed-out charge is retried with its idempotency key: never charged twice',
    settleExtraMs: 30_000,
    provider: 'payment',
    faults: { latencyMs: [10_500, 12_000] },
  }),
  {
    name: 'webhook-moved',
    summary: 'the partner moved its webhook URL (410 Gone at the old one)',
    proves: 'moved deliveries dead-letter at once; a --fix-url redrive delivers each exactly once',
    inject: (ctx) => faults(ctx, 'webhook', { movedFrom: '/hooks/v1', movedTo: '/hooks/v2' }),
    // The partner stays moved: the remedy is the redrive, not the partner coming back.
    heal: async () => undefined,
    remedy: (ctx) => {
      const base = ctx.pipeline.providers.webhook.url;
      return redriveTasks(ctx, 'webhook.tasks', { from: `${base}/hooks/v1`, to: `${base}/hooks/v2` });
    },
    checks: (_ctx, v) => [
      invariant(
        'moved webhooks redriven',
        v.dlq.webhook,
        v.dlq.webhook === 0,
        `${v.dlq.webhook} webhook tasks left in the DLQ after the --fix-url redrive`,
      ),
    ],
    next: (ctx) => {
      const old = ctx.config.workers.partnerWebhookUrl;
      const moved = old.includes('/hooks/v1') ? old.replace('/hooks/v1', '/hooks/v2') : `${old}-NEW`;
      return [
        `orderbus dlq redrive ${ctx.config.rabbitPrefix}webhook.tasks.dlq --fix-url ${old}=${moved} --execute`,
      ];
    },
  },
  {
    name: 'kafka-broker-kill',
    summary: 'one Kafka broker of three is killed -9, then restarted',
    proves: 'RF 3 / min.insync 2: the pipeline rides out a broker loss without losing a record',
    requiresBrokers: 3,
    settleExtraMs: 30_000,
    inject: async (ctx) => {
      requireLocalStack(ctx.config, 'kafka-broker-kill');
      const node = await busiestBroker(ctx);
      killed.set(ctx, [node]);
      await signalKafkaNode(ctx.config, node, 'SIGKILL');
      ctx.observe('killed broker', node);
      ctx.note(`Kafka broker ${node} killed -9`);
    },
    heal: async (ctx) => {
      for (const node of killed.get(ctx) ?? []) {
        await restartKafkaNode(ctx.config, node);
        ctx.note(`Kafka broker ${node} restarted; cluster healthy`);
      }
      killed.delete(ctx);
    },
  },
  {
    name: 'kafka-restart',
    summary: 'Kafka is stopped, held down, and started again',
    proves: 'checkout keeps taking orders (outbox) and every service resumes where it stopped',
    settleExtraMs: 30_000,
    inject: async (ctx) => {
      requireLocalStack(ctx.config, 'kafka-restart');
      const state = readState(dataDir(ctx.config));
      // A compose stack has one Kafka service; signalKafkaNode turns the signal into docker compose.
      const nodes = state?.mode === 'compose' ? [1] : (state?.kafka ?? []).map((n) => n.nodeId);
      killed.set(ctx, nodes);
      for (const n of nodes) await signalKafkaNode(ctx.config, n, 'SIGTERM');
      ctx.note(`Kafka stopped (nodes ${nodes.join(', ')})`);
    },
    heal: async (ctx) => {
      const nodes = killed.get(ctx) ?? [];
      for (const n of nodes) await restartKafkaNode(ctx.config, n);
      if (nodes.length > 0) ctx.note('Kafka restarted; cluster healthy');
      killed.delete(ctx);
    },
  },
  {
    name: 'rabbitmq-restart',
    summary: 'RabbitMQ is stopped, held down, and started again',
    proves: 'the dispatcher waits and re-publishes; durable tasks survive; nothing is lost',
    settleExtraMs: 30_000,
    inject: async (ctx) => {
      killed.set(ctx, [1]);
      await stopRabbitmq(ctx.config);
      ctx.note('RabbitMQ stopped');
    },
    heal: async (ctx) => {
      if (!killed.get(ctx)) return;
      await startRabbitmq(ctx.config);
      killed.delete(ctx);
      ctx.note('RabbitMQ started; taking connections');
    },
  },
  RABBIT_NODE_KILL,
  {
    name: 'service-crash',
    summary: 'kill -9 payment, outbox relay, dispatcher and a worker in turn, mid-flood',
    proves: 'a crash anywhere (also while catching up) loses nothing and duplicates nothing',
    inject: async (ctx) => {
      // Consumer-group services come back only when the coordinator gives up on the dead member
      // (the session timeout), so restarts run in the background while the next target is hit.
      const targets = [
        { name: 'payment', again: false },
        { name: 'outbox-relay', again: true },
        { name: 'dispatcher', again: false },
        { name: 'email-worker', again: true },
      ];
      const slot = Math.max(1000, ctx.faultWindowMs / targets.length);
      const t0 = Date.now();
      let kills = 0;
      const restarts: Promise<void>[] = [];
      const crash = async (name: string, round: number) => {
        const pid = await ctx.pipeline.kill(name);
        if (pid !== undefined) kills++;
        ctx.note(`${name} killed -9 (pid ${pid ?? '?'})${round === 1 ? ' while catching up' : ''}`);
        await ctx.sleep(500);
        const back = ctx.pipeline.startProcess(name, 120_000);
        restarts.push(back.then(() => ctx.note(`${name} back (pid ${ctx.pipeline.pid(name) ?? '?'})`)));
        return back;
      };
      for (const [i, t] of targets.entries()) {
        await ctx.sleep(Math.max(0, t0 + i * slot + slot / 3 - Date.now()));
        if (ctx.signal.aborted) break;
        const back = crash(t.name, 0);
        if (t.again) {
          await back;
          await ctx.sleep(200);
          await crash(t.name, 1);
        }
      }
      await Promise.all(restarts);
      ctx.observe('processes killed -9', kills);
    },
    heal: async (ctx) => {
      const restarted = await ctx.pipeline.ensureRunning();
      if (restarted.length > 0) ctx.note(`restarted ${restarted.join(', ')}`);
    },
  },
  {
    name: 'flash-sale',
    summary: 'a 10× traffic burst',
    proves: 'checkout holds a connection for one short transaction: the burst queues, nothing breaks',
    burstFactor: 10,
    inject: async (ctx) => ctx.note('10× burst in the middle third of the fault window'),
    heal: async () => undefined,
  },
  {
    name: 'poison',
    summary: 'undecodable and schema-invalid records injected into order.events',
    proves: 'every consumer dead-letters a poison record with its context and keeps going',
    inject: (ctx) => poisonRecords(ctx, 5),
    heal: async () => undefined,
    checks: (ctx, v) => {
      const expected = 10 * ctx.pipeline.groups.length;
      return [
        invariant(
          'poison dead-lettered by every group',
          Math.max(0, expected - v.poisonDeadLettered),
          v.poisonDeadLettered >= expected,
          `${v.poisonDeadLettered} of ${expected} (10 records × ${ctx.pipeline.groups.length} groups) on the DLQ topic`,
        ),
      ];
    },
  },
  ...DATABASE_SCENARIOS,
  REGISTRY_SCENARIO,
];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}

export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (s) return s;
  throw unknownNameError('chaos scenario', name, scenarioNames(), 'orderbus chaos list', {
    code: 'UNKNOWN_SCENARIO',
    exitCode: ExitCode.usage,
  });
}

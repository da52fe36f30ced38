import { randomUUID } from 'node:crypto';
import { providerAdmin } from '../../../src/providers/client.js';
import { toMessage } from '../../../src/tasks/dispatcher.js';
import { ConfirmedPublisher } from '../../../src/tasks/publisher.js';
import type { OrderbusConfig } from '../../../src/config.js';
import { rabbitClusterConfig } from '../../../src/devstack/stack/rabbit-cluster.js';
import type { TaskTopology } from '../../../src/tasks/topology.js';
import { startDrillRabbitCluster } from '../../support/drill-rabbit-cluster.js';
import { startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import type { Benchmark, Sample } from '../harness.js';
import { amqpPublishConfirmLoop } from '../references.js';
import { config, runId } from './timed.js';

/** tasks: tasks/s per worker type, against an amqplib publish-with-confirms loop. */

const TASKS_N = Number(process.env.ORDERBUS_BENCH_TASKS ?? 3000);
type Kind = 'email' | 'webhook' | 'analytics';

function task(p: TestPipeline, t: TaskTopology, kind: Kind, i: number) {
  const orderId = randomUUID();
  if (kind === 'email')
    return toMessage(t, {
      kind: 'email' as const,
      taskId: `${p.ns}-${i}`,
      orderId,
      template: 'order-confirmation' as const,
      to: `c${i}@example.com`,
      data: {},
      causationId: randomUUID(),
      correlationId: randomUUID(),
    });
  if (kind === 'webhook')
    return toMessage(t, {
      kind: 'webhook' as const,
      taskId: `${p.ns}-${i}`,
      orderId,
      url: `${p.providers.webhook.url}/hooks/v1/orders`,
      payload: { event: 'order.paid', orderId },
    });
  return toMessage(t, {
    kind: 'analytics' as const,
    taskId: `${p.ns}-${i}`,
    orderId,
    type: 'order.placed',
    at: new Date().toISOString(),
  });
}

/** How many tasks of `kind` the pipeline has performed (the provider's ledger, or the table). */
async function performed(p: TestPipeline, kind: Kind): Promise<number> {
  if (kind === 'analytics')
    return Number(
      (await p.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM analytics_events')).rows[0]?.n,
    );
  const ledger = await providerAdmin.ledger(p.providers[kind].adminUrl);
  return ledger.counts[kind === 'email' ? 'email' : 'delivery'] ?? 0;
}

/** `rabbitmq`: the RabbitMQ section to use instead of the shared node's (a 3-node cluster). */
async function drainRate(kind: Kind, rabbitmq?: Partial<OrderbusConfig['rabbitmq']>): Promise<number> {
  const p = await startTestPipeline({
    label: `bench-${kind}`,
    services: [`${kind}-worker`],
    extra: (c) => ({
      ...c,
      rabbitmq: { ...c.rabbitmq, ...rabbitmq },
      workers: { ...c.workers, emailRatePerSecond: 100_000 },
    }),
  });
  try {
    const pub = new ConfirmedPublisher(p.config, 'bench', () => undefined);
    const t = await pub.topologyNames();
    const tasks = Array.from({ length: TASKS_N }, (_, i) => task(p, t, kind, i));
    const t0 = process.hrtime.bigint();
    await pub.publishAll(tasks);
    await pub.close();
    for (;;) {
      // The ledger is read whole; poll it gently and ride out a busy moment.
      if ((await performed(p, kind).catch(() => 0)) >= TASKS_N) break;
      if (Number(process.hrtime.bigint() - t0) / 1e9 > 600)
        throw new Error(`${kind} tasks did not drain in 10 min`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return TASKS_N / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await p.stop();
  }
}

/** Private RabbitMQ beside the shared node, on ports of its own. */
const PRIVATE_BASE_PORT = 5712;
const KINDS = ['email', 'webhook', 'analytics'] as const;

/** Runs `fn` against a private RabbitMQ of `size` nodes (classic queues on one, quorum on three). */
async function onPrivateRabbit<T>(
  size: 1 | 3,
  fn: (rabbitmq: Partial<OrderbusConfig['rabbitmq']>) => Promise<T>,
): Promise<T> {
  const rabbit = await startDrillRabbitCluster(PRIVATE_BASE_PORT, size);
  try {
    const c = rabbitClusterConfig(rabbit.nodes);
    return await fn(size > 1 ? c : { ...c, queueType: 'classic' });
  } finally {
    await rabbit.stop();
  }
}

export const tasksBench: Benchmark = {
  name: 'tasks',
  description: `tasks/s per worker type: ${TASKS_N} tasks published with confirms and drained by one worker (in the benchmark's process, beside the simulated providers; providers at zero latency, e-mail rate limit lifted), against a plain amqplib publish-with-confirms loop; then the same on a private 3-node RabbitMQ cluster with quorum queues, against one private node with classic queues in the same run (the shared node is busy with every other test)`,
  runs: 2,
  async run(): Promise<Sample[]> {
    const reference = await amqpPublishConfirmLoop(
      config,
      `bench-ref-tasks-${runId}`,
      TASKS_N,
      Buffer.alloc(300, 120),
    );
    const out: Sample[] = [];
    for (const kind of KINDS) {
      out.push({
        metric: `${kind} worker: publish + deliver + ack, ${TASKS_N} tasks`,
        value: await drainRate(kind),
        unit: 'tasks/s',
        better: 'higher',
        reference: { name: 'amqplib publish + confirms loop (no consumer)', value: reference },
        command: `npm run bench -- tasks (${kind}.tasks, worker prefetch ${config.workers.prefetch})`,
      });
    }
    // The shared node serves every other test at once: the cluster is compared with a private
    // single node, as idle as it, measured in the same run.
    const privateRate = await onPrivateRabbit(1, async (rabbitmq) => {
      const rates: Partial<Record<Kind, number>> = {};
      for (const kind of KINDS) rates[kind] = await drainRate(kind, rabbitmq);
      return rates;
    });
    await onPrivateRabbit(3, async (rabbitmq) => {
      for (const kind of KINDS) {
        out.push({
          metric: `${kind} worker on a 3-node cluster (quorum queues): publish + deliver + ack, ${TASKS_N} tasks`,
          value: await drainRate(kind, rabbitmq),
          unit: 'tasks/s',
          better: 'higher',
          reference: {
            name: `the same on one private node (classic queues), same run`,
            value: privateRate[kind] ?? 0,
          },
          command: `npm run bench -- tasks (${kind}.tasks on 3 private nodes, quorum)`,
        });
      }
    });
    return out;
  },
};

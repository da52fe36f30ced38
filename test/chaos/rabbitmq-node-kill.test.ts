import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRabbit, managementApi } from '../../src/adapters/rabbitmq.js';
import { loadConfig } from '../../src/config.js';
import { setupRabbitmq } from '../../src/devstack/stack/rabbitmq-setup.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import { ConfirmedPublisher } from '../../src/tasks/publisher.js';
import type { EmailTask } from '../../src/tasks/task.js';
import { topologyNames, topologyOptions } from '../../src/tasks/topology.js';
import { runCli } from '../support/cli.js';
import { expectPass, runDrill, type DrillRun } from '../support/drill.js';
import { startDrillRabbitCluster, type DrillRabbitCluster } from '../support/drill-rabbit-cluster.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

// A private 3-node RabbitMQ cluster (started once for the file, about a minute on this machine):
// quorum task queues on it, then the rabbitmq-node-kill drill through the real CLI, and a broken
// build (classic, non-replicated queues) that the same drill must fail.
const ns = testNamespace('rnk');
const SMALL = ['--duration', '6s', '--rate', '8', '--json'];
let cluster: DrillRabbitCluster | undefined;

beforeAll(async () => {
  cluster = await startDrillRabbitCluster(5702);
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
}, 180_000);

interface QueueRow {
  name: string;
  type: string;
  members?: string[];
  leader?: string;
  messages?: number;
}

function drill(env: Record<string, string>): Promise<DrillRun> {
  return runDrill('rabbitmq-node-kill', SMALL, {
    ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
    ...cluster!.env,
    ...env,
  });
}

describe('RabbitMQ on three nodes', { timeout: 300_000 }, () => {
  it('declares quorum work queues and DLQs with three members; e-mail tasks flow, confirmations on their own queue', async () => {
    const config = loadConfig({ env: { ...process.env, ...cluster!.env, ORDERBUS_RABBIT_PREFIX: `${ns}.` } });
    const pub = new ConfirmedPublisher(config, 'test-quorum', () => undefined, 10_000);
    const t = await pub.topologyNames();
    const task = (i: number, template: EmailTask['template']): EmailTask => ({
      kind: 'email',
      taskId: `${ns}-${i}`,
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      template,
      to: 'a@example.test',
      data: {},
      causationId: `c-${i}`,
      correlationId: `k-${i}`,
    });
    try {
      await pub.publishAll([
        toMessage(t, task(1, 'order-confirmation')),
        toMessage(t, task(2, 'shipping-notification')),
        toMessage(t, task(3, 'shipping-notification')),
      ]);
      const queues = await waitUntil('the queues counted the tasks', async () => {
        const rows = await managementApi<QueueRow[]>(
          config,
          `/queues/%2F?columns=name,type,members,leader,messages`,
        );
        const mine = rows.filter((q) => q.name.startsWith(`${ns}.`));
        const count = (n: string) => mine.find((q) => q.name === n)?.messages ?? 0;
        const done =
          count(t.queues['email.tasks']) === 2 && count(`${t.queues['email.tasks']}.priority`) === 1;
        return done ? mine : undefined;
      });
      const work = queues.filter((q) => /\.tasks(\.priority|\.dlq)?$/.test(q.name));
      expect(work.map((q) => q.name).sort()).toEqual(
        [
          'analytics.tasks',
          'analytics.tasks.dlq',
          'email.tasks',
          'email.tasks.dlq',
          'email.tasks.priority',
          'webhook.tasks',
          'webhook.tasks.dlq',
        ].map((n) => `${ns}.${n}`),
      );
      for (const q of work) {
        expect(q.type, q.name).toBe('quorum');
        expect(q.members?.length, q.name).toBe(3);
      }
      // Leaders spread over the nodes (balanced locator), not all on the node clients reach first.
      expect(new Set(queues.map((q) => q.leader)).size).toBeGreaterThan(1);
      const conn = await connectRabbit(config, 'test-quorum-read');
      const ch = await conn.createChannel();
      const got = await ch.get(`${t.queues['email.tasks']}.priority`, { noAck: true });
      expect(got && JSON.parse(got.content.toString()).template).toBe('order-confirmation');
      await conn.close();
    } finally {
      const conn = await connectRabbit(config, 'test-quorum-clean');
      const ch = await conn.createChannel();
      const rows = await managementApi<QueueRow[]>(config, `/queues/%2F?columns=name`);
      for (const q of rows.filter((r) => r.name.startsWith(`${ns}.`))) await ch.deleteQueue(q.name);
      await conn.close();
      await pub.close();
    }
  });

  it("stack up declares the stack's own task queues on the cluster as quorum queues, so its workers can use them", async () => {
    const config = loadConfig({ env: { ...process.env, ...cluster!.env } });
    await setupRabbitmq(config, () => undefined, { enablePlugins: false });
    const rows = await managementApi<QueueRow[]>(config, `/queues/%2F?columns=name,type,members`);
    const names = Object.values(topologyNames(topologyOptions(config)).queues);
    for (const name of [...names, ...names.map((n) => `${n}.dlq`)]) {
      const q = rows.find((r) => r.name === name);
      expect(q?.type, name).toBe('quorum');
      expect(q?.members?.length, name).toBe(3);
    }
    // A worker of this configuration declares the same queues again: no inequivalent-argument refusal.
    const pub = new ConfirmedPublisher(config, 'test-quorum-stack', () => undefined, 10_000);
    try {
      await pub.topologyNames();
    } finally {
      await pub.close();
    }
  });

  it('rabbitmq-node-kill: the node leading the most work queues killed -9 under load; leaders move, nothing lost or sent twice', async () => {
    const r = await drill({});
    expectPass(r);
    expect(r.report.duplicates.emails).toBe(0);
    expect(Number(r.report.observed['work queues it led'])).toBeGreaterThan(0);
    expect(r.report.observed['work queues left on the killed node']).toBe(0);
    expect(r.report.invariants.map((i) => i.name)).toContain('work-queue leaders moved to surviving nodes');
  });

  it('a broken build (classic, non-replicated queues on the cluster) makes the drill fail', async () => {
    const r = await drill({ ORDERBUS_RABBITMQ_QUEUE_TYPE: 'classic' });
    expect(r.report.verdict).toBe('FAIL');
    expect(r.code).toBe(1);
    const moved = r.report.invariants.find((i) => i.name === 'work-queue leaders moved to surviving nodes');
    expect(moved?.ok).toBe(false);
  });

  it('refuses a stack without a RabbitMQ cluster and names the command that fixes it', async () => {
    const r = await runCli(['chaos', 'run', 'rabbitmq-node-kill', ...SMALL], {
      env: { ORDERBUS_STACK_DIR: `/tmp/${ns}-none` },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[DRILL_NEEDS_RABBIT_NODES]');
    expect(r.stderr).toContain('orderbus stack up --rabbit-nodes 3');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { managementApi } from '../../src/adapters/rabbitmq.js';
import { defaultConfig, loadConfig } from '../../src/config.js';
import { queueRole } from '../../src/ops/queues.js';
import { rabbitClusterConfig, rabbitNodeSpecs } from '../../src/devstack/stack/rabbit-cluster.js';
import { localStackLayer } from '../../src/devstack/stack/state.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import type { EmailTask } from '../../src/tasks/task.js';
import {
  dlqArgs,
  retryQueueArgs,
  topologyNames,
  topologyOptions,
  workQueueArgs,
  WORK_QUEUES,
} from '../../src/tasks/topology.js';

const email = (template: EmailTask['template']): EmailTask => ({
  kind: 'email',
  taskId: `e:${template}`,
  orderId: 'o',
  template,
  to: 'a@example.test',
  data: {},
  causationId: 'c',
  correlationId: 'k',
});

describe('task topology: classic on one node, quorum on a cluster', () => {
  it('one node keeps classic queues: e-mail priorities, classic DLQs and retry tiers, no priority queue', () => {
    const t = topologyNames({ retryDelaysMs: [1000] });
    expect(t.queueType).toBe('classic');
    expect(t.emailPriorityQueue).toBeUndefined();
    expect(workQueueArgs('email.tasks', t, 'email.tasks')).toMatchObject({ 'x-max-priority': 10 });
    expect(workQueueArgs('email.tasks', t, 'email.tasks')['x-queue-type']).toBeUndefined();
    expect(dlqArgs(t)).toEqual({});
    expect(retryQueueArgs(t, 'email.tasks', 1000)['x-queue-type']).toBeUndefined();
    expect(toMessage(t, email('order-confirmation'))).toMatchObject({
      routingKey: 'email.tasks',
      priority: 9,
    });
  });

  it('a cluster makes every work queue, DLQ and retry tier a quorum queue with spread leaders', () => {
    const t = topologyNames({ prefix: 'p.', retryDelaysMs: [1000], queueType: 'quorum' });
    for (const kind of WORK_QUEUES) {
      const args = workQueueArgs(kind, t, t.queues[kind]);
      expect(args, kind).toMatchObject({ 'x-queue-type': 'quorum', 'x-queue-leader-locator': 'balanced' });
      expect(args['x-max-priority'], kind).toBeUndefined();
    }
    expect(dlqArgs(t)).toMatchObject({ 'x-queue-type': 'quorum' });
    expect(retryQueueArgs(t, 'p.email.tasks', 1000)).toMatchObject({
      'x-queue-type': 'quorum',
      'x-message-ttl': 1000,
      'x-dead-letter-routing-key': 'p.email.tasks',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    // Best effort stays best effort: analytics drops its oldest, so it cannot dead-letter at least once.
    expect(workQueueArgs('analytics.tasks', t, 'p.analytics.tasks')).toMatchObject({
      'x-overflow': 'drop-head',
    });
  });

  it('on a cluster, order confirmations take the priority queue and shipping notices the work queue', () => {
    const t = topologyNames({ prefix: 'p.', retryDelaysMs: [1000], queueType: 'quorum' });
    expect(t.emailPriorityQueue).toBe('p.email.tasks.priority');
    expect(toMessage(t, email('order-confirmation')).routingKey).toBe('p.email.tasks.priority');
    expect(toMessage(t, email('shipping-notification')).routingKey).toBe('p.email.tasks');
  });

  it('a 3-node stack points the config at every node and quorum queues; one node leaves it alone', () => {
    const nodes = rabbitNodeSpecs('/d', 3).map((s) => ({ ...s, pid: 1 }));
    expect(nodes.map((n) => [n.node, n.amqpPort, n.managementPort])).toEqual([
      ['orderbus-rabbit-1@localhost', 5673, 15673],
      ['orderbus-rabbit-2@localhost', 5674, 15674],
      ['orderbus-rabbit-3@localhost', 5675, 15675],
    ]);
    const layer = localStackLayer({ mode: 'local', brokers: 1, kafka: [], rabbit: nodes, updatedAt: '' });
    expect(layer.rabbitmq).toEqual(rabbitClusterConfig(nodes));
    expect(localStackLayer({ mode: 'local', brokers: 1, kafka: [], updatedAt: '' })).toEqual({});
    const config = loadConfig({
      env: {
        ORDERBUS_RABBITMQ_FAILOVER_URLS:
          'amqp://guest:guest@127.0.0.1:5674,amqp://guest:guest@127.0.0.1:5675',
        ORDERBUS_RABBITMQ_QUEUE_TYPE: 'quorum',
      },
    });
    expect(config.rabbitmq.failoverUrls).toHaveLength(2);
    expect(topologyOptions(config).queueType).toBe('quorum');
    expect(() => loadConfig({ env: { ORDERBUS_RABBITMQ_QUEUE_TYPE: 'stream' } })).toThrow(
      /classic or quorum/,
    );
  });

  it('the e-mail priority queue is a work queue in `orderbus queues`', () => {
    expect(queueRole('p.email.tasks.priority')).toBe('work');
    expect(queueRole('p.email.tasks')).toBe('work');
  });

  it('the management API fails over to the next node when one refuses the connection', async () => {
    const listen = (s: Server) =>
      new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
    const gone = createServer();
    const refusedPort = await listen(gone);
    await new Promise((r) => gone.close(r));
    const live = createServer((_req, res) => res.end(JSON.stringify({ rabbitmq_version: '3.10.8' })));
    const port = await listen(live);
    try {
      const c = defaultConfig();
      c.rabbitmq.managementUrl = `http://guest:guest@127.0.0.1:${refusedPort}`;
      c.rabbitmq.managementFailoverUrls = [`http://guest:guest@127.0.0.1:${port}`];
      expect(await managementApi<{ rabbitmq_version: string }>(c, '/overview')).toEqual({
        rabbitmq_version: '3.10.8',
      });
      c.rabbitmq.managementFailoverUrls = [];
      await expect(managementApi(c, '/overview')).rejects.toMatchObject({
        code: 'RABBITMQ_MANAGEMENT_UNREACHABLE',
      });
    } finally {
      live.close();
    }
  });
});

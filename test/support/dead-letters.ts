import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { providerAdmin } from '../../src/providers/client.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import { ConfirmedPublisher } from '../../src/tasks/publisher.js';
import type { AnalyticsTask, WebhookTask } from '../../src/tasks/task.js';
import amqp from 'amqplib';
import {
  declareTaskTopology,
  dlqName,
  topologyOptions,
  type TaskTopology,
} from '../../src/tasks/topology.js';
import type { TestPipeline } from './pipeline.js';
import { waitUntil } from './wait.js';

/** Dead letters made the way an incident makes them: the webhook partner moved its endpoint. */

/** A queue's ready messages, over a connection of its own. */
export async function queueDepth(p: TestPipeline, name: string): Promise<number> {
  const conn = await connectRabbit(p.config, 'test-depth');
  const ch = await conn.createChannel();
  const q = await ch.checkQueue(name);
  await conn.close();
  return q.messageCount;
}

/** Webhook task `i` of the test's namespace, to `path` on the webhook provider. */
export function webhookTask(p: TestPipeline, i: number, path: string): WebhookTask {
  return {
    kind: 'webhook',
    taskId: `${p.ns}-task-${i}`,
    orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    url: `${p.providers.webhook.url}${path}`,
    payload: { event: 'order.paid', orderId: `o-${i}` },
  };
}

/** Analytics task `i` of the test's namespace (an order.placed record). */
export function analyticsTask(p: TestPipeline, i: number): AnalyticsTask {
  return {
    kind: 'analytics',
    taskId: `${p.ns}-a-${i}`,
    orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    type: 'order.placed',
    at: new Date().toISOString(),
  };
}

/** The partner answers 410 Gone on /hooks/v1 (it moved to /hooks/v2). */
export async function movePartnerEndpoint(p: TestPipeline): Promise<void> {
  await providerAdmin.faults(p.providers.webhook.adminUrl, {
    movedFrom: '/hooks/v1',
    movedTo: '/hooks/v2',
  });
}

/**
 * Moves the partner's endpoint, sends `n` webhook tasks (ids `<ns>-task-0…n-1`) to the old URL
 * one at a time, so that they are dead-lettered in the ids' order (a webhook worker must be running).
 */
export async function deadLetterWebhooks(
  p: TestPipeline,
  n: number,
): Promise<{ t: TaskTopology; dlq: string }> {
  await movePartnerEndpoint(p);
  const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
  const t = await pub.topologyNames();
  const dlq = dlqName(t.queues['webhook.tasks']);
  // One at a time: the worker handles its prefetch concurrently, so tasks sent together reach the
  // DLQ in any order, and the tests read the DLQ's order as the ids' order.
  for (let i = 0; i < n; i++) {
    await pub.publishAll([toMessage(t, webhookTask(p, i, '/hooks/v1/orders'))]);
    await waitUntil(`${i + 1} dead letters`, async () => (await queueDepth(p, dlq)) === i + 1);
  }
  await pub.close();
  return { t, dlq };
}

/** A pipeline's webhook DLQ and a confirm channel that dead-letters into it as the worker does. */
export interface WebhookDlq {
  t: TaskTopology;
  dlq: string;
  target: string;
  conn: Awaited<ReturnType<typeof amqp.connect>>;
  ch: amqp.ConfirmChannel;
  /** Dead-letters task `i` (to its work queue unless told otherwise), unconfirmed. */
  letter(i: number, to?: { exchange?: string; routingKey?: string }): void;
}

/** Declares `p`'s task topology and opens a confirm channel onto its webhook DLQ; `closers` gets the connection. */
export async function openWebhookDlq(
  p: TestPipeline,
  closers: (() => Promise<unknown>)[],
): Promise<WebhookDlq> {
  const conn = await amqp.connect(p.config.rabbitmq.url);
  closers.push(() => conn.close());
  const setup = await conn.createChannel();
  const t = await declareTaskTopology(setup, topologyOptions(p.config));
  await setup.close();
  const ch = await conn.createConfirmChannel();
  const target = t.queues['webhook.tasks'];
  const dlq = dlqName(target);
  const url = `${p.providers.webhook.url}/hooks/v1/orders`;
  return {
    t,
    dlq,
    target,
    conn,
    ch,
    letter(i, to = {}) {
      const taskId = `${p.ns}-task-${i}`;
      const task = { kind: 'webhook', taskId, orderId: `o-${i}`, url, payload: { event: 'order.paid', i } };
      ch.publish('', dlq, Buffer.from(JSON.stringify(task)), {
        persistent: true,
        messageId: taskId,
        headers: {
          'x-task-id': taskId,
          'x-original-exchange': to.exchange ?? t.taskExchange,
          'x-original-routing-key': to.routingKey ?? target,
          'x-error-class': 'HttpGone',
          'x-error-status': 410,
          'x-last-failure-at': new Date().toISOString(),
        },
      });
    },
  };
}

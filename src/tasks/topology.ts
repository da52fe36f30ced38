import type { Channel } from '../adapters/rabbitmq.js';
import type { OrderbusConfig } from '../config.js';

/**
 * The RabbitMQ task topology, declared idempotently by `stack up` and by every worker and
 * dispatcher at start-up.
 *
 * - `orderbus.tasks` (direct): routing key = work queue name.
 * - `orderbus.retry` (direct): routing key `<queue>.retry.<delayMs>`; each wait queue has a TTL
 *   and dead-letters back to `orderbus.tasks` with the original queue as routing key. One queue
 *   per delay tier because classic queues only expire messages at their head.
 * - `orderbus.dlx` (direct): routing key `<queue>.dlq` → the dead-letter queue.
 *
 * Queue types:
 * - email.tasks is classic with x-max-priority: order confirmations must overtake shipping
 *   notices, and quorum queues have no priorities in 3.10. Durable + persistent messages.
 * - webhook.tasks is a quorum queue: replicated, and loss here means a partner never hears of an
 *   order. x-delivery-limit bounds poison redeliveries.
 * - analytics.tasks is classic with a message TTL and max length (best effort, it says so: what
 *   it drops is counted by the broker as expired/dropped, never silently by us).
 * - every `<queue>.dlq` is a durable classic queue: it must be browsable in order without
 *   consuming (`/api/queues/…/get` with ack_requeue_true keeps the order on a classic queue).
 *
 * On a cluster (`rabbitmq.queueType: quorum`, `stack up --rabbit-nodes 3`) every queue is a
 * quorum queue replicated on all nodes, leaders spread by `x-queue-leader-locator: balanced`, so
 * a node's death loses nothing and moves its leaders. Quorum queues have no priorities in 3.10:
 * order confirmations go to their own `email.tasks.priority` queue, which the e-mail worker
 * consumes beside `email.tasks`, so they never wait behind a backlog of shipping notices. Queues
 * whose overflow rejects publishes dead-letter at least once (the retry tiers, the work queues'
 * delivery limit); analytics keeps drop-head and so at-most-once dead-lettering (best effort).
 */
export const TASK_EXCHANGE = 'orderbus.tasks';
export const RETRY_EXCHANGE = 'orderbus.retry';
export const DLX_EXCHANGE = 'orderbus.dlx';

export const WORK_QUEUES = ['email.tasks', 'webhook.tasks', 'analytics.tasks'] as const;
export type WorkQueue = (typeof WORK_QUEUES)[number];

export const EMAIL_MAX_PRIORITY = 10;
export const ANALYTICS_TTL_MS = 60 * 60 * 1000;
export const ANALYTICS_MAX_LENGTH = 1_000_000;

export const dlqName = (queue: string) => `${queue}.dlq`;
export const retryQueueName = (queue: string, delayMs: number) => `${queue}.retry.${delayMs}`;

/** Headers every task carries, and the failure context added on the way to a DLQ. */
export const TaskHeaders = {
  taskId: 'x-task-id',
  orderId: 'x-order-id',
  attempt: 'x-orderbus-attempt',
  originalExchange: 'x-original-exchange',
  originalRoutingKey: 'x-original-routing-key',
  originalQueue: 'x-original-queue',
  errorClass: 'x-error-class',
  errorMessage: 'x-error-message',
  statusCode: 'x-error-status',
  responseBody: 'x-error-response',
  firstFailureAt: 'x-first-failure-at',
  lastFailureAt: 'x-last-failure-at',
  redriveCount: 'x-orderbus-redrive-count',
  auditRef: 'x-orderbus-audit-ref',
} as const;

export type QueueType = 'classic' | 'quorum';

export interface TopologyOptions {
  /** Prefix for every name, so tests get their own namespace. Empty in production. */
  prefix?: string;
  retryDelaysMs: number[];
  /** Default classic (one node); quorum on a cluster. */
  queueType?: QueueType;
}

export interface TaskTopology {
  taskExchange: string;
  retryExchange: string;
  dlxExchange: string;
  queues: Record<WorkQueue, string>;
  /** Quorum only: where order confirmations go, consumed beside email.tasks by the e-mail worker. */
  emailPriorityQueue?: string;
  retryDelaysMs: number[];
  queueType: QueueType;
}

export const emailPriorityQueueName = (emailQueue: string) => `${emailQueue}.priority`;

/** The topology options a configuration names (its prefix and retry tiers). */
export function topologyOptions(config: OrderbusConfig): TopologyOptions {
  return {
    prefix: config.rabbitPrefix,
    retryDelaysMs: config.workers.retryDelaysMs,
    queueType: config.rabbitmq.queueType,
  };
}

export function topologyNames(options: TopologyOptions): TaskTopology {
  const p = options.prefix ?? '';
  const queueType = options.queueType ?? 'classic';
  return {
    taskExchange: `${p}${TASK_EXCHANGE}`,
    retryExchange: `${p}${RETRY_EXCHANGE}`,
    dlxExchange: `${p}${DLX_EXCHANGE}`,
    queues: {
      'email.tasks': `${p}email.tasks`,
      'webhook.tasks': `${p}webhook.tasks`,
      'analytics.tasks': `${p}analytics.tasks`,
    },
    ...(queueType === 'quorum' ? { emailPriorityQueue: emailPriorityQueueName(`${p}email.tasks`) } : {}),
    retryDelaysMs: options.retryDelaysMs,
    queueType,
  };
}

/** Replicated on every node, leaders spread over the nodes. */
const QUORUM = { 'x-queue-type': 'quorum', 'x-queue-leader-locator': 'balanced' };
/** Dead-lettering that waits for the target's confirm (needs reject-publish overflow). */
const AT_LEAST_ONCE = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };

/** The arguments of a work queue (email.tasks.priority takes email.tasks'). */
export function workQueueArgs(kind: WorkQueue, t: TaskTopology, queue: string): Record<string, unknown> {
  const dead = { 'x-dead-letter-exchange': t.dlxExchange, 'x-dead-letter-routing-key': dlqName(queue) };
  if (t.queueType === 'quorum') {
    if (kind === 'analytics.tasks') return { ...QUORUM, ...classicWorkQueueArgs(kind, t, queue) };
    return { ...QUORUM, ...dead, ...AT_LEAST_ONCE, 'x-delivery-limit': 20 };
  }
  return classicWorkQueueArgs(kind, t, queue);
}

/** A DLQ: classic on one node; a quorum queue on a cluster. */
export function dlqArgs(t: TaskTopology): Record<string, unknown> {
  return t.queueType === 'quorum' ? { ...QUORUM } : {};
}

/** A retry tier: waits `delayMs`, then dead-letters back to the work queue. */
export function retryQueueArgs(t: TaskTopology, queue: string, delayMs: number): Record<string, unknown> {
  return {
    ...(t.queueType === 'quorum' ? { ...QUORUM, ...AT_LEAST_ONCE } : {}),
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': t.taskExchange,
    'x-dead-letter-routing-key': queue,
  };
}

function classicWorkQueueArgs(kind: WorkQueue, t: TaskTopology, queue: string): Record<string, unknown> {
  const dead = { 'x-dead-letter-exchange': t.dlxExchange, 'x-dead-letter-routing-key': dlqName(queue) };
  switch (kind) {
    case 'email.tasks':
      return { ...dead, 'x-max-priority': EMAIL_MAX_PRIORITY };
    case 'webhook.tasks':
      return { ...dead, 'x-queue-type': 'quorum', 'x-delivery-limit': 20 };
    case 'analytics.tasks':
      return {
        'x-message-ttl': ANALYTICS_TTL_MS,
        'x-max-length': ANALYTICS_MAX_LENGTH,
        'x-overflow': 'drop-head',
      };
  }
}

/** Declares every exchange, queue and binding; safe to call any number of times. */
export async function declareTaskTopology(ch: Channel, options: TopologyOptions): Promise<TaskTopology> {
  const t = topologyNames(options);
  await ch.assertExchange(t.taskExchange, 'direct', { durable: true });
  await ch.assertExchange(t.retryExchange, 'direct', { durable: true });
  await ch.assertExchange(t.dlxExchange, 'direct', { durable: true });
  for (const kind of WORK_QUEUES) {
    const q = t.queues[kind];
    await ch.assertQueue(q, { durable: true, arguments: workQueueArgs(kind, t, q) });
    await ch.bindQueue(q, t.taskExchange, q);
    const dlq = dlqName(q);
    await ch.assertQueue(dlq, { durable: true, arguments: dlqArgs(t) });
    await ch.bindQueue(dlq, t.dlxExchange, dlq);
    for (const delay of t.retryDelaysMs) {
      const rq = retryQueueName(q, delay);
      await ch.assertQueue(rq, { durable: true, arguments: retryQueueArgs(t, q, delay) });
      await ch.bindQueue(rq, t.retryExchange, rq);
    }
  }
  if (t.emailPriorityQueue) {
    // Its failures retry and dead-letter as email.tasks' do (same tiers, same DLQ).
    const q = t.emailPriorityQueue;
    await ch.assertQueue(q, {
      durable: true,
      arguments: workQueueArgs('email.tasks', t, t.queues['email.tasks']),
    });
    await ch.bindQueue(q, t.taskExchange, q);
  }
  return t;
}

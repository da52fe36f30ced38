import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import type { EventEnvelope } from '../events/types.js';
import { EventConsumer } from '../pipeline/event-consumer.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { ConfirmedPublisher, type OutgoingMessage } from './publisher.js';
import type { AnalyticsTask, EmailTask, Task, WebhookTask } from './task.js';
import { TaskHeaders, type TaskTopology } from './topology.js';

/** Order confirmations overtake shipping notices on the priority queue. */
export const EMAIL_PRIORITY = { 'order-confirmation': 9, 'shipping-notification': 5 } as const;

/**
 * The dispatcher: a Kafka consumer group over order.events that turns events into RabbitMQ
 * tasks. Offsets are committed only after RabbitMQ confirmed every task of the batch, so a crash
 * re-dispatches instead of losing; task ids are deterministic (`<eventId>:<kind>`), so the
 * re-dispatched copy is deduplicated by the workers' idempotency keys. While RabbitMQ is down or
 * blocks publishers, the batch waits (heartbeating) and resumes — nothing dropped, no crash.
 */
export class Dispatcher implements Service {
  readonly name = 'dispatcher';
  private readonly consumer: EventConsumer;
  private readonly publisher: ConfirmedPublisher;
  dispatched = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly pool: Pool,
    ctx: Pick<ServiceContext, 'log'>,
    options: { groupId?: string } = {},
  ) {
    this.publisher = new ConfirmedPublisher(config, 'orderbus-dispatcher', ctx.log);
    const unsafe = config.workers.unsafeAckBeforePublish;
    if (unsafe)
      ctx.log('dispatcher.UNSAFE-MODE', {
        warning: 'offsets are committed before RabbitMQ confirms: tasks can be lost (test-only switch)',
      });
    this.consumer = new EventConsumer(config, ctx, {
      name: 'dispatcher',
      groupId: options.groupId ?? 'dispatcher',
      partitionsConsumedConcurrently: 3,
      unsafeCommitBeforeHandle: unsafe,
      handleBatch: async (events, heartbeat) => {
        // The names come from the configuration: while RabbitMQ is down the batch waits inside
        // publishAll (heartbeating) instead of failing back to kafkajs and its restarts.
        const tasks = await this.tasksFor(events);
        const messages = tasks.map((t) => toMessage(this.publisher.topology, t));
        if (unsafe) await this.publisher.publishUnconfirmed(messages);
        else await this.publisher.publishAll(messages, heartbeat);
        this.dispatched += messages.length;
      },
    });
  }

  async start(): Promise<void> {
    await this.publisher.topologyNames();
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.publisher.close();
  }

  private async tasksFor(events: EventEnvelope[]): Promise<Task[]> {
    const needOrder = [
      ...new Set(
        events
          .filter((e) => e.type === 'payment.captured' || e.type === 'shipping.created')
          .map((e) => e.orderId),
      ),
    ];
    const emails = new Map<string, string>();
    if (needOrder.length > 0) {
      const { rows } = await this.pool.query<{ id: string; email: string }>(
        'SELECT id, email FROM orders WHERE id = ANY($1::uuid[])',
        [needOrder],
      );
      for (const r of rows) emails.set(r.id, r.email);
    }
    const tasks: Task[] = [];
    for (const e of events) {
      const to = emails.get(e.orderId);
      if (e.type === 'payment.captured' && to) {
        tasks.push(email(e, 'order-confirmation', to));
        tasks.push({
          kind: 'webhook',
          taskId: `${e.eventId}:webhook`,
          orderId: e.orderId,
          url: `${this.config.workers.partnerWebhookUrl}/orders`,
          payload: {
            event: 'order.paid',
            orderId: e.orderId,
            amountCents: (e.data as { amountCents?: number }).amountCents ?? 0,
            occurredAt: e.occurredAt,
          },
        } satisfies WebhookTask);
      }
      if (e.type === 'shipping.created' && to) tasks.push(email(e, 'shipping-notification', to));
      tasks.push({
        kind: 'analytics',
        taskId: `${e.eventId}:analytics`,
        orderId: e.orderId,
        type: e.type,
        at: e.occurredAt,
      } satisfies AnalyticsTask);
    }
    return tasks;
  }
}

function email(e: EventEnvelope, template: EmailTask['template'], to: string): EmailTask {
  return {
    kind: 'email',
    taskId: `${e.eventId}:email:${template}`,
    orderId: e.orderId,
    template,
    to,
    data: e.data,
    causationId: e.eventId,
    correlationId: e.correlationId,
  };
}

/** Quorum queues have no priorities: the highest-priority e-mails take their own queue instead. */
function emailQueue(t: TaskTopology, task: EmailTask): string {
  const top = Math.max(...Object.values(EMAIL_PRIORITY));
  return t.emailPriorityQueue && EMAIL_PRIORITY[task.template] === top
    ? t.emailPriorityQueue
    : t.queues['email.tasks'];
}

export function toMessage(t: TaskTopology, task: Task): OutgoingMessage {
  const queue =
    task.kind === 'email'
      ? emailQueue(t, task)
      : task.kind === 'webhook'
        ? t.queues['webhook.tasks']
        : t.queues['analytics.tasks'];
  return {
    exchange: t.taskExchange,
    routingKey: queue,
    content: Buffer.from(JSON.stringify(task)),
    messageId: task.taskId,
    headers: {
      [TaskHeaders.taskId]: task.taskId,
      [TaskHeaders.orderId]: task.orderId,
      [TaskHeaders.attempt]: 1,
    },
    ...(task.kind === 'email' ? { priority: EMAIL_PRIORITY[task.template] } : {}),
  };
}

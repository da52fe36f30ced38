import { withClient, type Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { nextEvent } from '../events/codec.js';
import { columnsOf } from '../pipeline/columns.js';
import { appendOutbox, isTransientDbError, processOnce } from '../pipeline/outbox.js';
import { callProvider, ProviderCallError } from '../providers/client.js';
import type { ServiceContext } from '../runtime/service.js';
import { SharedRateLimiter } from './rate-limit.js';
import { uuidFromString, type AnalyticsTask, type EmailTask, type Task, type WebhookTask } from './task.js';
import { TaskFailure, TaskWorker } from './worker.js';

type Ctx = Pick<ServiceContext, 'log'>;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * A body of `kind` whose taskId and `fields` are strings: what a worker needs before it performs
 * (task-schema.ts checks an edited dead letter in full).
 */
function isTaskOf(b: unknown, kind: Task['kind'], ...fields: string[]): b is Record<string, unknown> {
  return isObj(b) && b.kind === kind && ['taskId', ...fields].every((f) => typeof b[f] === 'string');
}

/** Provider errors as task failures: 4xx other than 429 (and 410, 404) are not worth a retry. */
export function toTaskFailure(e: unknown): TaskFailure {
  if (e instanceof ProviderCallError) {
    const body =
      e.responseBody === undefined
        ? undefined
        : typeof e.responseBody === 'string'
          ? e.responseBody
          : JSON.stringify(e.responseBody);
    return new TaskFailure(e.errorClass, e.message, e.retriable, e.status ?? undefined, body);
  }
  return new TaskFailure(
    e instanceof Error ? e.name : 'Error',
    e instanceof Error ? e.message : String(e),
    true,
  );
}

/**
 * Email: idempotency key per (order, template), so a redelivered task never sends twice; a token
 * bucket in PostgreSQL holds the provider's rate across every instance. When the shipping notice
 * is sent, customer.notified is written to the outbox with the same dedup (one per task).
 */
export function emailWorker(config: OrderbusConfig, pool: Pool, ctx: Ctx): TaskWorker<EmailTask> {
  const limiter = new SharedRateLimiter(
    pool,
    `${config.rabbitPrefix}email`,
    config.workers.emailRatePerSecond,
  );
  return new TaskWorker<EmailTask>(config, ctx, {
    queue: 'email.tasks',
    name: 'email-worker',
    // The database away (rate limit, notified event) is waited out, never dead-lettered.
    isTransient: isTransientDbError,
    validate: (b): b is EmailTask => isTaskOf(b, 'email', 'to', 'template', 'orderId'),
    perform: async (task) => {
      await limiter.acquire();
      let messageId: string;
      try {
        const res = await callProvider<{ messageId?: string }>(
          `${config.providers.emailUrl}/messages`,
          { to: task.to, template: task.template, orderId: task.orderId, data: task.data },
          `email-${task.orderId}-${task.template}`,
        );
        messageId = res.body.messageId ?? '';
      } catch (e) {
        throw toTaskFailure(e);
      }
      if (task.template !== 'shipping-notification') return;
      await withClient(pool, (client) =>
        processOnce(client, 'email-notified', uuidFromString(task.taskId), async () => {
          const cause = {
            eventId: task.causationId,
            orderId: task.orderId,
            correlationId: task.correlationId,
          };
          await appendOutbox(client, [
            nextEvent(
              cause,
              'customer.notified',
              'email-worker',
              { template: task.template, messageId },
              uuidFromString(`${task.taskId}:notified`),
            ),
          ]);
        }),
      );
    },
  });
}

/** Webhook: POST with a 10 s timeout; 2xx acks, 5xx/timeout/429 retry, 410/404 dead-letter at once. */
export function webhookWorker(config: OrderbusConfig, ctx: Ctx): TaskWorker<WebhookTask> {
  return new TaskWorker<WebhookTask>(config, ctx, {
    queue: 'webhook.tasks',
    name: 'webhook-worker',
    validate: (b): b is WebhookTask =>
      isTaskOf(b, 'webhook', 'url') && /^https?:\/\//.test(String(b.url)) && isObj(b.payload),
    perform: async (task) => {
      try {
        await callProvider(task.url, task.payload, task.taskId, 10_000);
      } catch (e) {
        throw toTaskFailure(e);
      }
    },
  });
}

/** Analytics: consumed in batches, stored idempotently by task id. Drops only by the queue's TTL/length. */
export function analyticsWorker(config: OrderbusConfig, pool: Pool, ctx: Ctx): TaskWorker<AnalyticsTask> {
  return new TaskWorker<AnalyticsTask>(config, ctx, {
    queue: 'analytics.tasks',
    name: 'analytics-worker',
    prefetch: 500,
    isTransient: isTransientDbError,
    validate: (b): b is AnalyticsTask => isTaskOf(b, 'analytics', 'type'),
    batch: {
      size: 200,
      waitMs: 200,
      perform: async (tasks) => {
        await pool.query(
          `INSERT INTO analytics_events (task_id, order_id, type, at)
           SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
          columnsOf(tasks, (t) => [t.taskId, t.orderId, t.type, t.at]),
        );
      },
    },
  });
}

import type { ConsumeMessage } from 'amqplib';
import type { OrderbusConfig } from '../config.js';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../adapters/rabbitmq.js';
import { retry, type BackoffPolicy } from '../retry.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { attemptOf, headerString, type Task } from './task.js';
import {
  declareTaskTopology,
  dlqName,
  retryQueueName,
  TaskHeaders,
  topologyOptions,
  type TaskTopology,
  type WorkQueue,
} from './topology.js';

/** A failure with the context the DLQ keeps; `retriable: false` goes to the DLQ at once. */
export class TaskFailure extends Error {
  constructor(
    readonly errorClass: string,
    message: string,
    readonly retriable: boolean,
    readonly statusCode?: number,
    readonly responseBody?: string,
  ) {
    super(message);
  }
}

export interface TaskWorkerOptions<T extends Task> {
  queue: WorkQueue;
  name: string;
  prefetch?: number;
  perform?: (task: T, attempt: number) => Promise<void>;
  /** Batch mode: perform a batch, ack all of it at once (analytics). */
  batch?: { size: number; waitMs: number; perform: (tasks: T[]) => Promise<void> };
  validate: (body: unknown) => body is T;
}

/**
 * Pauses before each reconnect after RabbitMQ went away: 250 ms doubling to 5 s, without limit;
 * ±20 % so the workers of a restarted broker do not all knock at the same instant.
 */
export const WORKER_RECONNECT: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

/**
 * A worker on one work queue. Success acks. A retriable failure publishes a copy to the wait
 * queue of the next delay tier (TTL, then dead-lettered back to the work exchange) with the
 * attempt counter raised, waits for the confirm, and only then acks the original — never a
 * setTimeout re-publish after an ack. After the last attempt, or at once for a non-retryable
 * failure, the task goes to `<queue>.dlq` with its failure context, confirmed before the ack.
 * Killed anywhere, an unacked task is redelivered; the perform step is idempotent by task id.
 */
export class TaskWorker<T extends Task> implements Service {
  readonly name: string;
  private conn: AmqpConnection | undefined;
  private ch: ConfirmChannel | undefined;
  private tag: string | undefined;
  private topology!: TaskTopology;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  private pendingBatch: { msg: ConsumeMessage; task: T; ch: ConfirmChannel }[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  processed = 0;
  retried = 0;
  deadLettered = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: TaskWorkerOptions<T>,
  ) {
    this.name = options.name;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const conn = await connectRabbit(this.config, `orderbus-${this.options.name}`);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    this.topology = await declareTaskTopology(ch, topologyOptions(this.config));
    await ch.prefetch(this.options.prefetch ?? this.config.workers.prefetch);
    conn.on('close', () => {
      this.conn = undefined;
      this.ch = undefined;
      if (!this.stopping) void this.reconnect();
    });
    // A channel the broker closed (a channel error) takes the consumer with it while the
    // connection stays up: close the connection too, so the worker reconnects and consumes again.
    ch.on('close', () => {
      if (!this.stopping) void conn.close().catch(() => undefined);
    });
    this.conn = conn;
    this.ch = ch;
    const { consumerTag } = await ch.consume(this.topology.queues[this.options.queue], (msg) => {
      if (!msg) return;
      // A channel closed under a task (RabbitMQ restarted) must not crash the worker: the
      // unacked delivery goes back to the queue and is redelivered on the new channel.
      const p = this.onMessage(ch, msg)
        .catch((e: unknown) =>
          this.ctx.log('worker.channel-lost', {
            queue: this.options.queue,
            error: e instanceof Error ? e.message : String(e),
          }),
        )
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    });
    this.tag = consumerTag;
  }

  private async reconnect(): Promise<void> {
    try {
      await retry(() => this.connect(), WORKER_RECONNECT, {
        delayFirst: true,
        // Whatever keeps the worker from its queue is waited out (it has nothing else to do); a
        // lasting fault, such as refused credentials, shows in the log every ten attempts.
        retriable: () => true,
        stop: () => this.stopping,
        onRetry: ({ attempt, error }) => {
          if (attempt % 10 === 1)
            this.ctx.log('worker.reconnect-failed', {
              queue: this.options.queue,
              error: error instanceof Error ? error.message : String(error),
            });
        },
      });
      this.ctx.log('worker.reconnected', { queue: this.options.queue });
    } catch {
      // stopped meanwhile
    }
  }

  /** Stops taking new tasks, finishes the ones in flight, then closes (unacked ones are requeued). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ch && this.tag) await this.ch.cancel(this.tag).catch(() => undefined);
    await this.flushBatch();
    await Promise.allSettled([...this.inFlight]);
    await this.ch?.close().catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
  }

  private async onMessage(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(msg.content.toString('utf8'));
    } catch {
      return this.deadLetter(ch, msg, new TaskFailure('MalformedTask', 'the task is not valid JSON', false));
    }
    if (!this.options.validate(body))
      return this.deadLetter(
        ch,
        msg,
        new TaskFailure('MalformedTask', 'the task does not have the expected shape', false),
      );
    const task = body;
    if (this.options.batch) {
      this.pendingBatch.push({ msg, task, ch });
      if (this.pendingBatch.length >= this.options.batch.size) await this.flushBatch();
      else
        this.batchTimer ??= setTimeout(
          () => void this.flushBatch().catch(() => undefined),
          this.options.batch.waitMs,
        );
      return;
    }
    const attempt = attemptOf(msg.properties.headers);
    try {
      await this.options.perform?.(task, attempt);
      ch.ack(msg);
      this.processed++;
    } catch (e) {
      const failure =
        e instanceof TaskFailure
          ? e
          : new TaskFailure(
              e instanceof Error ? e.name : 'Error',
              e instanceof Error ? e.message : String(e),
              true,
            );
      await this.fail(ch, msg, failure, attempt);
    }
  }

  private async flushBatch(): Promise<void> {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    // Deliveries of a channel that closed since are redelivered by the broker: drop them here
    // (their delivery tags mean nothing on the new channel).
    const batch = this.pendingBatch.filter((b) => b.ch === this.ch);
    this.pendingBatch = [];
    const ch = this.ch;
    if (batch.length === 0 || !ch || !this.options.batch) return;
    try {
      await this.options.batch.perform(batch.map((b) => b.task));
      // One ack per delivery: an ack "up to this tag" (multiple) would also cover deliveries of
      // another batch still in flight, or one being dead-lettered, whose own ack then fails with
      // PRECONDITION_FAILED (unknown delivery tag) and closes the channel.
      for (const b of batch) ch.ack(b.msg);
      this.processed += batch.length;
    } catch (e) {
      for (const b of batch)
        try {
          ch.nack(b.msg, false, true);
        } catch {
          // the channel closed: the broker requeues them itself
        }
      this.ctx.log('worker.batch-failed', {
        queue: this.options.queue,
        size: batch.length,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private async fail(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    failure: TaskFailure,
    attempt: number,
  ): Promise<void> {
    const delays = this.topology.retryDelaysMs;
    if (!failure.retriable || attempt >= this.config.workers.maxAttempts || delays.length === 0)
      return this.deadLetter(ch, msg, failure, attempt);
    const delay = delays[Math.min(attempt - 1, delays.length - 1)] as number;
    const queue = this.topology.queues[this.options.queue];
    const headers = {
      ...(msg.properties.headers ?? {}),
      ...this.failureHeaders(msg, failure),
      [TaskHeaders.attempt]: attempt + 1,
    };
    if (await moveConfirmed(ch, msg, this.topology.retryExchange, retryQueueName(queue, delay), headers))
      this.retried++;
  }

  private failureHeaders(msg: ConsumeMessage, failure: TaskFailure): Record<string, unknown> {
    const now = new Date().toISOString();
    const h = msg.properties.headers;
    return {
      [TaskHeaders.originalExchange]: this.topology.taskExchange,
      [TaskHeaders.originalRoutingKey]: this.topology.queues[this.options.queue],
      [TaskHeaders.originalQueue]: this.topology.queues[this.options.queue],
      [TaskHeaders.errorClass]: failure.errorClass,
      [TaskHeaders.errorMessage]: failure.message.slice(0, 1000),
      ...(failure.statusCode !== undefined ? { [TaskHeaders.statusCode]: failure.statusCode } : {}),
      ...(failure.responseBody !== undefined
        ? { [TaskHeaders.responseBody]: failure.responseBody.slice(0, 2000) }
        : {}),
      [TaskHeaders.firstFailureAt]: headerString(h, TaskHeaders.firstFailureAt) ?? now,
      [TaskHeaders.lastFailureAt]: now,
    };
  }

  private async deadLetter(
    ch: ConfirmChannel,
    msg: ConsumeMessage,
    failure: TaskFailure,
    attempt = attemptOf(msg.properties.headers),
  ): Promise<void> {
    const queue = this.topology.queues[this.options.queue];
    const headers = {
      ...(msg.properties.headers ?? {}),
      ...this.failureHeaders(msg, failure),
      [TaskHeaders.attempt]: attempt,
      'x-attempts': attempt,
    };
    if (!(await moveConfirmed(ch, msg, this.topology.dlxExchange, dlqName(queue), headers))) return;
    this.deadLettered++;
    this.ctx.log('worker.dead-lettered', {
      queue,
      taskId: headerString(msg.properties.headers, TaskHeaders.taskId),
      errorClass: failure.errorClass,
    });
  }
}

/**
 * Publishes a copy of `msg` (with `headers`) and acks the original once the broker confirmed the
 * copy; without a confirm the original is requeued. Returns whether it was moved.
 */
async function moveConfirmed(
  ch: ConfirmChannel,
  msg: ConsumeMessage,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown>,
): Promise<boolean> {
  ch.publish(exchange, routingKey, msg.content, { ...msg.properties, headers, persistent: true });
  try {
    await ch.waitForConfirms();
  } catch {
    ch.nack(msg, false, true);
    return false;
  }
  ch.ack(msg);
  return true;
}

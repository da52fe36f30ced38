import type { ConsumeMessage } from 'amqplib';
import type { OrderbusConfig } from '../config.js';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../adapters/rabbitmq.js';
import { errorMessage } from '../errors.js';
import { backoffDelay, pause, retry, type BackoffPolicy } from '../retry.js';
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
  /**
   * Failures that are the world's, not the task's (the database away): the task waits, unacked,
   * and is performed again with backoff, spending none of its attempts. Default: none.
   */
  isTransient?: (e: unknown) => boolean;
}

/**
 * Pauses before each reconnect after RabbitMQ went away: 250 ms doubling to 5 s, without limit;
 * ±20 % so the workers of a restarted broker do not all knock at the same instant.
 */
export const WORKER_RECONNECT: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

/**
 * Pauses while a task (or a batch) waits out a transient failure, and before a failed batch is
 * handed back: 250 ms doubling to 5 s, so a database outage is neither a hot loop nor a reason
 * to dead-letter.
 */
export const WORKER_WAIT: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

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
  private priorityTag: string | undefined;
  private topology!: TaskTopology;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** Batches that failed in a row: the next one is handed back after a longer pause. */
  private batchFailures = 0;
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
    const onDelivery = (msg: ConsumeMessage | null) => {
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
    };
    // On quorum queues order confirmations have their own queue (no priorities): consumed on the
    // same channel, so they share the prefetch window instead of waiting behind the backlog.
    if (this.options.queue === 'email.tasks' && this.topology.emailPriorityQueue)
      this.priorityTag = (await ch.consume(this.topology.emailPriorityQueue, onDelivery)).consumerTag;
    const { consumerTag } = await ch.consume(this.topology.queues[this.options.queue], onDelivery);
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
    this.stopped.abort();
    if (this.ch && this.priorityTag) await this.ch.cancel(this.priorityTag).catch(() => undefined);
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
      await this.waitingOut(() => this.options.perform?.(task, attempt) ?? Promise.resolve());
      ch.ack(msg);
      this.processed++;
    } catch (e) {
      // Stopped while waiting: the task goes back as it came, for the next worker.
      if (this.isTransient(e)) return ch.nack(msg, false, true);
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
    const perform = this.options.batch.perform;
    try {
      await this.waitingOut(() => perform(batch.map((b) => b.task)));
      this.batchFailures = 0;
      // One ack per delivery: an ack "up to this tag" (multiple) would also cover deliveries of
      // another batch still in flight, or one being dead-lettered, whose own ack then fails with
      // PRECONDITION_FAILED (unknown delivery tag) and closes the channel.
      for (const b of batch) ch.ack(b.msg);
      this.processed += batch.length;
    } catch (e) {
      // Handed back after a pause: a batch that keeps failing must not spin.
      if (!this.stopping) await pause(backoffDelay(++this.batchFailures, WORKER_WAIT), this.stopped.signal);
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

  /** Runs `fn` again with backoff while it fails transiently, until it works or the worker stops. */
  private waitingOut(fn: () => Promise<void>): Promise<void> {
    return retry(fn, WORKER_WAIT, {
      retriable: (e) => this.isTransient(e),
      signal: this.stopped.signal,
      onRetry: ({ attempt, error }) => {
        if (attempt % 10 === 1)
          this.ctx.log('worker.waiting', { queue: this.options.queue, attempt, error: errorMessage(error) });
      },
    });
  }

  private isTransient(e: unknown): boolean {
    return this.options.isTransient?.(e) ?? false;
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

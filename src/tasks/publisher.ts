import type { OrderbusConfig } from '../config.js';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../adapters/rabbitmq.js';
import { pause, retry, type BackoffPolicy } from '../retry.js';
import { declareTaskTopology, topologyNames, topologyOptions, type TaskTopology } from './topology.js';

export interface OutgoingMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  headers: Record<string, unknown>;
  messageId: string;
  priority?: number;
}

/**
 * How long a published batch may wait for its confirms (and a new connection for its topology
 * declarations) before the connection is dropped and the batch published again.
 */
export const CONFIRM_TIMEOUT_MS = 30_000;

/**
 * Pauses between attempts to publish a batch while RabbitMQ is away: 200 ms doubling to 5 s,
 * without limit; ±20 % so the publishers of a restarted broker do not all come back at once.
 */
export const PUBLISH_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5000, jitter: 0.2 };

/** How often a batch looks again whether RabbitMQ has unblocked its connection. */
const BLOCKED_POLL_MS = 500;

/** publishAll after close(): the one failure that is not retried. */
export class PublisherClosedError extends Error {
  constructor() {
    super('publisher closed');
    this.name = 'PublisherClosedError';
  }
}

/**
 * A confirm channel that survives RabbitMQ going away: `publishAll` resolves only when the broker
 * confirmed every message, waits while the connection is blocked (flow control) or down, and
 * reconnects. Callers commit their input only after it resolved.
 */
export class ConfirmedPublisher {
  private conn: AmqpConnection | undefined;
  private ch: ConfirmChannel | undefined;
  /** The connect in progress: concurrent batches share it instead of each opening a connection. */
  private opening: Promise<ConfirmChannel> | undefined;
  /** The connection RabbitMQ has blocked (flow control), until it unblocks it or closes. */
  private blockedConn: AmqpConnection | undefined;
  private closed = false;
  /** The task topology's names: fixed by the configuration, known without a connection. */
  readonly topology: TaskTopology;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly name: string,
    private readonly log: (event: string, fields?: Record<string, unknown>) => void,
    private readonly confirmTimeoutMs = CONFIRM_TIMEOUT_MS,
  ) {
    this.topology = topologyNames(topologyOptions(config));
  }

  private async channel(): Promise<ConfirmChannel> {
    if (this.ch) return this.ch;
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<ConfirmChannel> {
    const conn = await connectRabbit(this.config, this.name);
    try {
      conn.on('blocked', (reason: string) => {
        this.blockedConn = conn;
        this.log('rabbitmq.blocked', { reason });
      });
      conn.on('unblocked', () => {
        if (this.blockedConn === conn) this.blockedConn = undefined;
        this.log('rabbitmq.unblocked');
      });
      const declared = async () => {
        const ch = await conn.createConfirmChannel();
        ch.on('error', () => undefined);
        await declareTaskTopology(ch, topologyOptions(this.config));
        return ch;
      };
      const ch = await within(declared(), this.confirmTimeoutMs, 'the task topology declared');
      if (this.closed) throw new PublisherClosedError();
      // Registered only now: a close during the declarations above fails them instead.
      conn.on('close', () => this.drop(ch));
      ch.on('close', () => this.drop(ch));
      this.conn = conn;
      this.ch = ch;
      return ch;
    } catch (e) {
      // Not awaited: a connection that stopped answering never answers the close either.
      void conn.close().catch(() => undefined);
      throw e;
    }
  }

  /** Forgets `ch` and closes its connection, if it is still the current one. */
  private drop(ch: ConfirmChannel): void {
    if (this.ch !== ch) return;
    const conn = this.conn;
    this.ch = undefined;
    this.conn = undefined;
    void conn?.close().catch(() => undefined);
  }

  /**
   * Whether the current connection is blocked. Only the current one counts: a connection that
   * closed (or was dropped) while blocked never sends 'unblocked'.
   */
  private get blocked(): boolean {
    return this.blockedConn !== undefined && this.blockedConn === this.conn;
  }

  /** Connects and declares the task topology (queues, exchanges, retry and dead-letter queues). */
  async topologyNames(): Promise<TaskTopology> {
    await this.channel();
    return this.topology;
  }

  /** Publishes and waits for every confirm; retries (forever, with backoff) while RabbitMQ is away. */
  async publishAll(messages: OutgoingMessage[], onWait?: () => Promise<void>): Promise<void> {
    if (messages.length === 0) return;
    await retry(() => this.publishOnce(messages, onWait), PUBLISH_RETRY, {
      // Every other failure is RabbitMQ's (gone, restarting, silent): the batch waits it out.
      retriable: (e) => !(e instanceof PublisherClosedError),
      onRetry: async ({ attempt, error }) => {
        if (attempt % 10 === 1)
          this.log('rabbitmq.publish-retry', {
            attempt: attempt - 1,
            error: error instanceof Error ? error.message : String(error),
          });
        await onWait?.();
      },
    });
  }

  /** One attempt: waits while blocked, publishes, waits for the confirms; drops the connection it failed on. */
  private async publishOnce(messages: OutgoingMessage[], onWait?: () => Promise<void>): Promise<void> {
    if (this.closed) throw new PublisherClosedError();
    let ch: ConfirmChannel | undefined;
    try {
      while (this.blocked && !this.closed) {
        await onWait?.();
        await pause(BLOCKED_POLL_MS);
      }
      ch = await this.channel();
      for (const m of messages) {
        ch.publish(m.exchange, m.routingKey, m.content, {
          persistent: true,
          contentType: 'application/json',
          messageId: m.messageId,
          headers: m.headers,
          ...(m.priority !== undefined ? { priority: m.priority } : {}),
        });
      }
      // A connection that stopped answering without closing (a broker that hangs, a half-open
      // socket) would otherwise hold the batch — and the caller's offsets — forever: after the
      // timeout it is dropped and the batch published again; receivers deduplicate by id.
      await within(ch.waitForConfirms(), this.confirmTimeoutMs, 'confirms from RabbitMQ');
    } catch (e) {
      // The connection this attempt used — not one a concurrent batch has opened since.
      if (ch) this.drop(ch);
      throw e;
    }
  }

  /** Fire-and-forget (no confirm): only for the test-only unsafe dispatcher mode. */
  async publishUnconfirmed(messages: OutgoingMessage[]): Promise<void> {
    const ch = await this.channel();
    for (const m of messages)
      ch.publish(m.exchange, m.routingKey, m.content, {
        persistent: true,
        messageId: m.messageId,
        headers: m.headers,
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ch?.close().catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
  }
}

/** `promise`, or an error once `ms` have passed without it settling. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

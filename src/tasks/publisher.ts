import type { OrderbusConfig } from '../config.js';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../adapters/rabbitmq.js';
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
      if (this.closed) throw new Error('publisher closed');
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
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('publisher closed');
      let ch: ConfirmChannel | undefined;
      try {
        while (this.blocked && !this.closed) {
          await onWait?.();
          await new Promise((r) => setTimeout(r, 500));
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
        return;
      } catch (e) {
        if (attempt === 0 || attempt % 10 === 0)
          this.log('rabbitmq.publish-retry', { attempt, error: e instanceof Error ? e.message : String(e) });
        // The connection this attempt used — not one a concurrent batch has opened since.
        if (ch) this.drop(ch);
        await onWait?.();
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
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

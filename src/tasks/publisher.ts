import type { OrderbusConfig } from '../config.js';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../adapters/rabbitmq.js';
import { declareTaskTopology, type TaskTopology } from './topology.js';

export interface OutgoingMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  headers: Record<string, unknown>;
  messageId: string;
  priority?: number;
}

/**
 * A confirm channel that survives RabbitMQ going away: `publishAll` resolves only when the broker
 * confirmed every message, waits while the connection is blocked (flow control) or down, and
 * reconnects. Callers commit their input only after it resolved.
 */
export class ConfirmedPublisher {
  private conn: AmqpConnection | undefined;
  private ch: ConfirmChannel | undefined;
  private blocked = false;
  private closed = false;
  topology: TaskTopology | undefined;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly name: string,
    private readonly log: (event: string, fields?: Record<string, unknown>) => void,
  ) {}

  private async channel(): Promise<ConfirmChannel> {
    if (this.ch) return this.ch;
    const conn = await connectRabbit(this.config, this.name);
    conn.on('blocked', (reason: string) => {
      this.blocked = true;
      this.log('rabbitmq.blocked', { reason });
    });
    conn.on('unblocked', () => {
      this.blocked = false;
      this.log('rabbitmq.unblocked');
    });
    conn.on('close', () => {
      this.conn = undefined;
      this.ch = undefined;
    });
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    ch.on('close', () => {
      this.ch = undefined;
    });
    this.topology = await declareTaskTopology(ch, {
      prefix: this.config.rabbitPrefix,
      retryDelaysMs: this.config.workers.retryDelaysMs,
    });
    this.conn = conn;
    this.ch = ch;
    return ch;
  }

  async topologyNames(): Promise<TaskTopology> {
    await this.channel();
    return this.topology as TaskTopology;
  }

  /** Publishes and waits for every confirm; retries (forever, with backoff) while RabbitMQ is away. */
  async publishAll(messages: OutgoingMessage[], onWait?: () => Promise<void>): Promise<void> {
    if (messages.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('publisher closed');
      try {
        while (this.blocked && !this.closed) {
          await onWait?.();
          await new Promise((r) => setTimeout(r, 500));
        }
        const ch = await this.channel();
        for (const m of messages) {
          ch.publish(m.exchange, m.routingKey, m.content, {
            persistent: true,
            contentType: 'application/json',
            messageId: m.messageId,
            headers: m.headers,
            ...(m.priority !== undefined ? { priority: m.priority } : {}),
          });
        }
        await ch.waitForConfirms();
        return;
      } catch (e) {
        if (attempt === 0 || attempt % 10 === 0)
          this.log('rabbitmq.publish-retry', { attempt, error: e instanceof Error ? e.message : String(e) });
        this.ch = undefined;
        await this.conn?.close().catch(() => undefined);
        this.conn = undefined;
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

import type { Channel, ConsumeMessage } from 'amqplib';
import type { OpsContext } from '../context.js';

/**
 * Reading a RabbitMQ DLQ as a stream over a snapshot: the letters ready when a command starts
 * (a passive declare's message count). New dead letters keep arriving behind them during an
 * incident; a command stops after the snapshot, so it finishes however fast they arrive, and no
 * message is kept in memory after its callback returns.
 */

/** Without a delivery for this long, fewer letters are there than counted (a browse elsewhere holds some). */
const IDLE_MS = 1500;

/** basic.qos' prefetch count is 16 bits; above it, unlimited (deliveries past the snapshot go back on close). */
const MAX_PREFETCH = 65535;

/** Ready dead letters now: the snapshot a command works on. */
export async function depth(ctx: OpsContext, queue: string): Promise<number> {
  const conn = await ctx.amqp();
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/** Delivers a queue's messages one by one, waiting at most IDLE_MS for the next. */
class Deliveries {
  private readonly inbox: ConsumeMessage[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private tag: string | undefined;

  constructor(readonly ch: Channel) {
    ch.on('close', () => this.end());
  }

  async start(queue: string, prefetch: number): Promise<void> {
    await this.ch.prefetch(prefetch);
    const { consumerTag } = await this.ch.consume(
      queue,
      (msg) => {
        if (!msg) return this.end(); // cancelled by the broker (queue deleted)
        this.inbox.push(msg);
        this.wake?.();
      },
      { noAck: false },
    );
    this.tag = consumerTag;
  }

  private end(): void {
    this.ended = true;
    this.wake?.();
  }

  async next(): Promise<ConsumeMessage | undefined> {
    while (this.inbox.length === 0 && !this.ended) {
      const got = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), IDLE_MS);
        this.wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      this.wake = undefined;
      if (!got) return undefined;
    }
    return this.inbox.shift();
  }

  /** Stops deliveries; what was delivered and not acked goes back to its place when the channel closes. */
  async stop(): Promise<void> {
    if (this.tag) await this.ch.cancel(this.tag).catch(() => undefined);
  }
}

/**
 * Reads the first `max` letters without removing any: each stays unacknowledged until the end
 * (a classic queue puts them back in place when the channel closes) and `fn` sees it as it
 * arrives. Stops at `max`, when `fn` returns false, or when nothing more comes; resolves to how
 * many `fn` saw.
 */
export async function holdEach(
  ctx: OpsContext,
  queue: string,
  max: number,
  fn: (msg: ConsumeMessage, position: number) => boolean | void,
): Promise<number> {
  if (max <= 0) return 0;
  const ch = await (await ctx.amqp()).createChannel();
  ch.on('error', () => undefined);
  const d = new Deliveries(ch);
  let n = 0;
  try {
    // A prefetch of exactly the snapshot: the broker delivers it and no more.
    await d.start(queue, max <= MAX_PREFETCH ? max : 0);
    while (n < max) {
      const msg = await d.next();
      if (!msg || fn(msg, n++) === false) break;
    }
    return n;
  } finally {
    await d.stop();
    await ch.close().catch(() => undefined);
  }
}

/**
 * Takes the first `max` letters with at most `window` unacknowledged at any time (so a slow,
 * rate-limited run never holds a delivery past the broker's consumer_timeout) and hands each to
 * `handle`, which settles it (acks, or leaves it in the DLQ) now or from a confirm later. Stops at
 * `max`, when `handle` returns false, or when nothing more comes; waits for `drain` (the pending
 * settlements) before the channel closes.
 */
export async function takeEach(
  ctx: OpsContext,
  queue: string,
  limits: { max: number; window: number },
  handle: (msg: ConsumeMessage, position: number, ch: Channel) => Promise<boolean | void>,
  drain: () => Promise<void>,
): Promise<number> {
  if (limits.max <= 0) return 0;
  const ch = await (await ctx.amqp()).createChannel();
  ch.on('error', () => undefined);
  const d = new Deliveries(ch);
  let n = 0;
  try {
    await d.start(queue, Math.max(1, Math.min(limits.window, MAX_PREFETCH)));
    while (n < limits.max) {
      const msg = await d.next();
      if (!msg || (await handle(msg, n++, ch)) === false) break;
    }
    await d.stop();
    await drain();
    return n;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

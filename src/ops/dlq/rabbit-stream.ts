import type { Channel, ConsumeMessage } from 'amqplib';
import type { OpsContext } from '../context.js';

/**
 * Reading a RabbitMQ DLQ as a stream over a snapshot: the letters ready when a command starts
 * (a passive declare's message count). New dead letters keep arriving behind them during an
 * incident; a command stops after the snapshot, so it finishes however fast they arrive, and no
 * message is kept in memory after its callback returns.
 */

/**
 * Without a delivery for this long while none is ready in the queue, fewer letters are there than
 * counted (a browse elsewhere holds some). While some are ready, they are on their way (a busy
 * host or broker, a window waiting for confirms): waited for, up to IDLE_ROUNDS such periods.
 */
const IDLE_MS = 1500;
const IDLE_ROUNDS = 20;

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

/** Delivers a queue's messages one by one, waiting for the next while any may come (IDLE_MS). */
class Deliveries {
  private readonly inbox: ConsumeMessage[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private tag: string | undefined;
  private queue = '';

  constructor(readonly ch: Channel) {
    ch.on('close', () => this.end());
  }

  async start(queue: string, prefetch: number): Promise<void> {
    this.queue = queue;
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
    let idle = 0;
    while (this.inbox.length === 0 && !this.ended) {
      const got = await new Promise<boolean>((resolve) => {
        // The timer is checked once the event loop has read its sockets: a process that was not
        // scheduled for IDLE_MS runs its due timers before the deliveries that came meanwhile.
        const t = setTimeout(() => setImmediate(() => resolve(false)), IDLE_MS);
        this.wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      this.wake = undefined;
      if (got || this.inbox.length > 0) continue;
      if (++idle >= IDLE_ROUNDS || !(await this.stillReady())) return undefined;
    }
    return this.inbox.shift();
  }

  /** Whether letters are ready in the queue (so more deliveries are coming). */
  private async stillReady(): Promise<boolean> {
    if (this.ended) return false;
    try {
      return (await this.ch.checkQueue(this.queue)).messageCount > 0;
    } catch {
      return false; // the channel or the queue is gone: no more deliveries
    }
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
 * The acknowledgements of a channel that takes letters, in as few frames as it can: an acked
 * delivery waits for the next turn of the event loop, then the run of settled deliveries from
 * the oldest goes as one basic.ack with `multiple` (the broker settles them in one step, not one
 * per letter). A delivery not yet settled holds back every later one, so `multiple` never covers
 * a letter whose re-publish is unconfirmed; after a letter that stays held until the channel
 * closes (`keep`), later ones are acked one by one. `flush` before the channel closes.
 */
export class Acks {
  /** Settled deliveries not yet acked, by delivery tag: the message to ack, or null (requeued, kept). */
  private readonly settled = new Map<number, { msg: ConsumeMessage; done?: (ok: boolean) => void } | null>();
  /** Delivery tags on a channel count from 1, one per delivery; this channel only consumes. */
  private next = 1;
  private kept = false;
  private scheduled = false;

  constructor(private readonly ch: Pick<Channel, 'ack' | 'nack'>) {}

  /** Acks a delivery (soon); `done` learns whether the ack was sent (false: the channel is gone, the letter is back). */
  ack(msg: ConsumeMessage, done?: (ok: boolean) => void): void {
    this.settled.set(msg.fields.deliveryTag, { msg, ...(done ? { done } : {}) });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Puts a delivery back in its place now. */
  requeue(msg: ConsumeMessage): void {
    try {
      this.ch.nack(msg, false, true);
    } catch {
      // the channel is gone: the letter is back anyway
    }
    this.release(msg.fields.deliveryTag);
  }

  /** Leaves a delivery unacked until the channel closes (it goes back to its place then). */
  keep(msg: ConsumeMessage): void {
    this.kept = true;
    this.release(msg.fields.deliveryTag);
  }

  private release(tag: number): void {
    this.settled.set(tag, null);
    this.flush();
  }

  /** Sends the acks of the settled run from the oldest delivery. */
  flush(): void {
    this.scheduled = false;
    let last: ConsumeMessage | undefined;
    const done: ((ok: boolean) => void)[] = [];
    let ok = true;
    const send = (msg: ConsumeMessage, multiple: boolean) => {
      try {
        this.ch.ack(msg, multiple);
      } catch {
        ok = false; // the delivery channel is gone: the letters are back in the DLQ (at worst a duplicate)
      }
    };
    for (let s = this.settled.get(this.next); s !== undefined; s = this.settled.get(this.next)) {
      this.settled.delete(this.next++);
      if (s === null) continue;
      if (s.done) done.push(s.done);
      if (this.kept) send(s.msg, false);
      else last = s.msg;
    }
    if (last) send(last, true);
    for (const d of done) d(ok);
  }
}

/**
 * Takes the first `max` letters with at most `window` unacknowledged at any time (so a slow,
 * rate-limited run never holds a delivery past the broker's consumer_timeout) and hands each to
 * `handle`, which settles it through `acks` (acks, requeues or keeps it) now or from a confirm later. Stops at
 * `max`, when `handle` returns false, or when nothing more comes; waits for `drain` (the pending
 * settlements) before the channel closes.
 */
export async function takeEach(
  ctx: OpsContext,
  queue: string,
  limits: { max: number; window: number },
  handle: (msg: ConsumeMessage, position: number, acks: Acks) => Promise<boolean | void>,
  drain: () => Promise<void>,
): Promise<number> {
  if (limits.max <= 0) return 0;
  const ch = await (await ctx.amqp()).createChannel();
  ch.on('error', () => undefined);
  const d = new Deliveries(ch);
  const acks = new Acks(ch);
  let n = 0;
  try {
    await d.start(queue, Math.max(1, Math.min(limits.window, MAX_PREFETCH)));
    while (n < limits.max) {
      const msg = await d.next();
      if (!msg || (await handle(msg, n++, acks)) === false) break;
    }
    await d.stop();
    await drain();
    return n;
  } finally {
    acks.flush(); // what was settled is acked before the close gives the rest back
    await ch.close().catch(() => undefined);
  }
}

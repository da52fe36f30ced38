import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { managementApi } from '../../adapters/rabbitmq.js';
import type { OpsContext } from '../context.js';
import { policyFor, type ApiPolicy } from './dead-letter-targets.js';

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

/**
 * A quorum queue counts every return of a delivery (x-delivery-count, on 3.x also when a browse
 * gives it back by closing its channel) and drops or dead-letters onward a letter returned past its
 * delivery limit: browsing a quorum DLQ with a limit of 2 three times lost every letter. So a
 * letter delivered at its limit is not given back: a copy (x-delivery-count gone) is appended to
 * the queue's tail, confirmed, and only then the delivery acked — it moves to the back, nothing is
 * lost. RabbitMQ 4 sets a limit of 20 on every quorum queue unless told otherwise (-1).
 */
const DEFAULT_DELIVERY_LIMIT = 20;

/**
 * The lowest delivery limit RabbitMQ applies to `queue` (its argument, the policy and operator
 * policy matching its name; RabbitMQ 4's default when none is set), or null: a classic queue, or
 * no limit (-1). The policies are matched here: a queue's effective policy in the management API
 * comes with its statistics, seconds late. When the management API does not answer, the default.
 */
async function deliveryLimit(ctx: OpsContext, queue: string): Promise<number | null> {
  const vhost = encodeURIComponent(ctx.config.rabbitmq.vhost);
  let q: { type?: string; arguments?: Record<string, unknown> };
  let policies: ApiPolicy[][];
  try {
    [q, ...policies] = await Promise.all([
      managementApi<{ type?: string; arguments?: Record<string, unknown> }>(
        ctx.config,
        `/queues/${vhost}/${encodeURIComponent(queue)}`,
      ),
      managementApi<ApiPolicy[]>(ctx.config, `/policies/${vhost}`),
      // Readable by administrators only: without it, the other sources.
      managementApi<ApiPolicy[]>(ctx.config, `/operator-policies/${vhost}`).catch(() => []),
    ]);
  } catch {
    return DEFAULT_DELIVERY_LIMIT;
  }
  if (q.type !== 'quorum') return null;
  const set = [
    q.arguments?.['x-delivery-limit'],
    ...policies.map((list) => policyFor(queue, list)['delivery-limit']),
  ].filter((v): v is number => typeof v === 'number');
  const limits = set.filter((v) => v >= 0);
  if (limits.length > 0) return Math.min(...limits);
  return set.length > 0 ? null : DEFAULT_DELIVERY_LIMIT;
}

const DELIVERY_COUNT = 'x-delivery-count';

/** How many times a quorum queue's delivery was returned before (0 on its first, and on a classic queue). */
function deliveryCount(msg: ConsumeMessage): number {
  const v = msg.properties.headers?.[DELIVERY_COUNT];
  return typeof v === 'number' ? v : 0;
}

/**
 * A delivered letter's headers for a copy of it published again (to the DLQ's tail, or redriven):
 * without the queue's delivery count, which belongs to this delivery. A quorum queue keeps a
 * published x-delivery-count on the copy's first delivery, so a copy carrying it would read as
 * delivered that often already.
 */
export function letterHeaders(msg: ConsumeMessage): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...msg.properties.headers };
  delete headers[DELIVERY_COUNT];
  return headers;
}

/** Appends a copy of `msg` (without its delivery count) to `queue`'s tail; resolves once confirmed. */
async function appendCopy(ch: ConfirmChannel, queue: string, msg: ConsumeMessage): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    ch.sendToQueue(queue, msg.content, { ...msg.properties, headers: letterHeaders(msg) }, (err) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
    );
  });
}

/** The letters of a quorum queue delivered at its limit, moved to its tail before anyone sees them. */
class LimitGuard {
  private pub: Promise<ConfirmChannel> | undefined;

  constructor(
    private readonly ctx: OpsContext,
    private readonly queue: string,
    private readonly limit: number | null,
  ) {}

  static async open(ctx: OpsContext, queue: string): Promise<LimitGuard> {
    return new LimitGuard(ctx, queue, await deliveryLimit(ctx, queue));
  }

  /** Whether `msg` would be lost when given back. */
  atLimit(msg: ConsumeMessage): boolean {
    return this.limit !== null && deliveryCount(msg) >= this.limit;
  }

  /** Appends a copy to the tail (confirmed), then `ack`s the delivery. */
  async move(msg: ConsumeMessage, ack: () => void): Promise<void> {
    this.pub ??= this.ctx.amqp().then(async (conn) => {
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => undefined);
      return ch;
    });
    await appendCopy(await this.pub, this.queue, msg);
    ack();
  }

  async close(): Promise<void> {
    const ch = await this.pub?.catch(() => undefined);
    await ch?.close().catch(() => undefined);
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
 * many `fn` saw. `max` as a function of the letters ready now takes the snapshot on the reading
 * channel itself: a browse starts reading after one round trip, not after a channel of its own
 * for depth() (opened, asked, closed) — round trips that wait behind whatever else the process
 * does meanwhile (trace decodes the order's partition).
 */
export async function holdEach(
  ctx: OpsContext,
  queue: string,
  max: number | ((ready: number) => number | Promise<number>),
  fn: (msg: ConsumeMessage, position: number) => boolean | void,
): Promise<number> {
  if (typeof max === 'number' && max <= 0) return 0;
  const ch = await (await ctx.amqp()).createChannel();
  ch.on('error', () => undefined);
  const d = new Deliveries(ch);
  let opening: Promise<LimitGuard> | undefined;
  let n = 0;
  try {
    const limit = typeof max === 'number' ? max : await max((await ch.checkQueue(queue)).messageCount);
    if (limit <= 0) return 0;
    // The delivery limit (management API) is asked while the consumer starts; deliveries wait in
    // the inbox until it is known.
    opening = LimitGuard.open(ctx, queue);
    // A prefetch of exactly the snapshot: the broker delivers it and no more (a moved letter's
    // copy comes after it, in its new place).
    await d.start(queue, limit <= MAX_PREFETCH ? limit : 0);
    const guard = await opening;
    while (n < limit) {
      const msg = await d.next();
      if (msg && guard.atLimit(msg)) {
        await guard.move(msg, () => ch.ack(msg));
        continue;
      }
      if (!msg || fn(msg, n++) === false) break;
    }
    return n;
  } finally {
    await d.stop();
    await ch.close().catch(() => undefined);
    await (await opening)?.close();
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
  const guard = await LimitGuard.open(ctx, queue);
  const ch = await (await ctx.amqp()).createChannel();
  ch.on('error', () => undefined);
  const d = new Deliveries(ch);
  const acks = new Acks(ch);
  let n = 0;
  try {
    await d.start(queue, Math.max(1, Math.min(limits.window, MAX_PREFETCH)));
    while (n < limits.max) {
      const msg = await d.next();
      if (msg && guard.atLimit(msg)) {
        await guard.move(msg, () => acks.ack(msg));
        continue;
      }
      if (!msg || (await handle(msg, n++, acks)) === false) break;
    }
    await d.stop();
    await drain();
    return n;
  } finally {
    acks.flush(); // what was settled is acked before the close gives the rest back
    await ch.close().catch(() => undefined);
    await guard.close();
  }
}

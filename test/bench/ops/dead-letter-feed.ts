import {
  connectRabbit,
  managementApi,
  type AmqpConnection,
  type ConfirmChannel,
} from '../../../src/adapters/rabbitmq.js';
import type { OrderbusConfig } from '../../../src/config.js';
import { TaskHeaders } from '../../../src/tasks/topology.js';

/**
 * Dead letters for the redrive benchmark, with plain amqplib: a DLQ seeded fast (publisher confirms
 * over pipelined batches), and a feeder that keeps dead-lettering new letters into it at a steady
 * rate, the way a DLQ goes on filling during an incident.
 */

export const OLD_URL = 'http://127.0.0.1:8094/hooks/v1';
export const NEW_URL = 'http://127.0.0.1:8094/hooks/v2';

/** A vhost of the stack's RabbitMQ (created if missing), which the configured user may use. */
export async function ensureVhost(config: OrderbusConfig, vhost: string): Promise<void> {
  const user = decodeURIComponent(new URL(config.rabbitmq.url).username || 'guest');
  const v = encodeURIComponent(vhost);
  await managementApi(config, `/vhosts/${v}`, { method: 'PUT' });
  await managementApi(config, `/permissions/${v}/${encodeURIComponent(user)}`, {
    method: 'PUT',
    body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }),
  });
}

/** Webhook task letter `id`, as orderbus's workers dead-letter it after the partner answered 410. */
export function deadLetter(target: string, id: string, i: number) {
  const task = {
    kind: 'webhook',
    taskId: id,
    orderId: `00000000-0000-4000-8000-${String(i % 1e12).padStart(12, '0')}`,
    url: `${OLD_URL}/orders`,
    payload: { event: 'order.paid', orderId: `o-${i}` },
  };
  return {
    task,
    body: Buffer.from(JSON.stringify(task)),
    options: {
      persistent: true,
      headers: {
        [TaskHeaders.taskId]: id,
        [TaskHeaders.originalExchange]: '',
        [TaskHeaders.originalRoutingKey]: target,
        [TaskHeaders.errorClass]: 'HttpGone',
        [TaskHeaders.statusCode]: 410,
        [TaskHeaders.attempt]: 1,
      },
    },
  };
}

/** Publishes and resolves once the broker confirmed it, waiting for the socket to drain first when it is full. */
class Confirmed {
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private failed: Error | undefined;

  constructor(private readonly ch: ConfirmChannel) {}

  async send(queue: string, body: Buffer, options: object, maxInFlight: number): Promise<void> {
    if (this.failed) throw this.failed;
    this.inFlight++;
    const writable = this.ch.sendToQueue(queue, body, options, (err: unknown) => {
      if (err) this.failed ??= err instanceof Error ? err : new Error('the broker refused a publish');
      this.inFlight--;
      if (this.inFlight <= maxInFlight / 2) for (const w of this.waiters.splice(0)) w();
    });
    if (!writable) await new Promise((r) => this.ch.once('drain', r));
    if (this.inFlight >= maxInFlight) await new Promise<void>((r) => this.waiters.push(r));
  }

  async settle(): Promise<void> {
    await this.ch.waitForConfirms();
    if (this.failed) throw this.failed;
  }
}

/** Sends `n` letters to the DLQ with up to 5,000 unconfirmed at a time; resolves when all are confirmed. */
export async function seedDeadLetters(
  config: OrderbusConfig,
  target: string,
  dlq: string,
  n: number,
  prefix: string,
): Promise<void> {
  const conn = await connectRabbit(config, 'bench-seed');
  try {
    const out = new Confirmed(await conn.createConfirmChannel());
    for (let i = 0; i < n; i++) {
      const l = deadLetter(target, `${prefix}-${i}`, i);
      await out.send(dlq, l.body, l.options, 5000);
    }
    await out.settle();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/**
 * Dead-letters `rate` letters a second into the DLQ through RabbitMQ's own dead-lettering: each is
 * published to a queue whose messages expire at once (`x-message-ttl` 0) and whose dead-letter
 * route is the DLQ, so the broker moves it there with its `x-death` header, as it does for a
 * rejected or expired task.
 */
export class DeadLetterFeeder {
  private sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private error: Error | undefined;

  private constructor(
    private readonly conn: AmqpConnection,
    private readonly out: Confirmed,
    private readonly feedQueue: string,
    private readonly target: string,
    private readonly rate: number,
  ) {}

  static async start(
    config: OrderbusConfig,
    target: string,
    dlq: string,
    rate: number,
  ): Promise<DeadLetterFeeder> {
    const conn = await connectRabbit(config, 'bench-feeder');
    const ch = await conn.createConfirmChannel();
    const feedQueue = `${dlq}.feed`;
    await ch.deleteQueue(feedQueue);
    await ch.assertQueue(feedQueue, {
      durable: true,
      arguments: {
        'x-message-ttl': 0,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': dlq,
      },
    });
    const f = new DeadLetterFeeder(conn, new Confirmed(ch), feedQueue, target, rate);
    const t0 = Date.now();
    // Ticks of 100 ms, catching up from the clock: a busy moment delays letters, never drops them.
    f.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      f.sending = f.sending
        .then(async () => {
          while (f.sent < due) {
            const l = deadLetter(f.target, `feed-${f.sent}`, f.sent);
            f.sent++;
            await f.out.send(f.feedQueue, l.body, l.options, 1000);
          }
        })
        .catch((e: unknown) => {
          f.error ??= e instanceof Error ? e : new Error(String(e));
        });
    }, 100);
    return f;
  }

  /** Stops feeding; resolves to how many letters were fed (all confirmed) once none is left in the feed queue. */
  async stop(): Promise<number> {
    clearInterval(this.timer);
    await this.sending;
    if (this.error) throw this.error;
    await this.out.settle();
    const ch = await this.conn.createChannel();
    // Dead-lettering is asynchronous: the expired letters leave the feed queue soon after.
    for (let i = 0; (await ch.checkQueue(this.feedQueue)).messageCount > 0; i++) {
      if (i > 300) throw new Error(`${this.feedQueue} did not empty into the DLQ`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await ch.deleteQueue(this.feedQueue);
    await this.conn.close().catch(() => undefined);
    return this.sent;
  }

  /** Letters fed so far. */
  get fed(): number {
    return this.sent;
  }
}

/**
 * A plain amqplib shovel, the floor under a redrive: takes `n` messages from `from` (prefetch
 * 500), publishes each to `to` with confirms (mandatory, persistent, its own properties) and acks
 * it once confirmed. Resolves to messages/s.
 */
export async function amqpShovel(
  config: OrderbusConfig,
  from: string,
  to: string,
  n: number,
): Promise<number> {
  const inConn = await connectRabbit(config, 'bench-shovel-in');
  const outConn = await connectRabbit(config, 'bench-shovel-out');
  try {
    const inCh = await inConn.createChannel();
    const outCh = await outConn.createConfirmChannel();
    await outCh.assertQueue(to, { durable: true });
    await inCh.prefetch(500);
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      let done = 0;
      void inCh.consume(from, (msg) => {
        if (!msg || seen++ >= n) return;
        outCh.publish(
          '',
          to,
          msg.content,
          { ...msg.properties, persistent: true, mandatory: true },
          (err) => {
            if (err) return reject(new Error(`the broker refused a publish to ${to}`));
            inCh.ack(msg);
            if (++done === n) resolve();
          },
        );
      });
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await outCh.deleteQueue(to);
    return n / seconds;
  } finally {
    await inConn.close().catch(() => undefined);
    await outConn.close().catch(() => undefined);
  }
}

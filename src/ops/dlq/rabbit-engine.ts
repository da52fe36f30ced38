import type { ConsumeMessage, GetMessage } from 'amqplib';
import { connectRabbit } from '../../adapters/rabbitmq.js';
import { OrderbusError } from '../../errors.js';
import { validateTask } from '../../tasks/task-schema.js';
import { TaskHeaders } from '../../tasks/topology.js';
import { sha256 } from '../audit.js';
import type { OpsContext } from '../context.js';
import { listQueues } from '../queues.js';
import { rabbitDestination, rabbitView } from './message-view.js';
import { Pacer } from './pacer.js';
import { ITEMS_KEPT, decide, invalidate, keepHash, newRun, record } from './plan.js';
import type { DlqEngine, DlqMessage, PayloadHash, RedriveJob, RedriveRun } from './types.js';

/**
 * RabbitMQ `*.dlq` queues. Dead letters are browsed by taking them unacknowledged and giving
 * them back (a classic queue requeues to the original position), and redriven by publishing on
 * a confirm channel and acking the dead letter only after the confirm.
 */

/** Re-publishes awaiting their confirm at most (bounds memory; the broker confirms in batches). */
const CONFIRM_WINDOW = 2000;

async function depth(ctx: OpsContext, queue: string): Promise<number> {
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
 * Takes up to `max` messages off a queue unacknowledged, calls `fn` for each until it returns
 * false, then returns every message not acked by `fn` to its original position (channel close
 * requeues them).
 */
async function browseQueue(
  ctx: OpsContext,
  queue: string,
  max: number,
  fn: (m: DlqMessage, msg: GetMessage, ack: () => void) => boolean | void,
): Promise<number> {
  const conn = await ctx.amqp();
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  let n = 0;
  try {
    for (; n < max; n++) {
      const msg = await ch.get(queue, { noAck: false });
      if (!msg) break;
      if (fn(rabbitView(queue, msg, n), msg, () => ch.ack(msg)) === false) return n + 1;
    }
    return n;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

async function redrive(ctx: OpsContext, queue: string, job: RedriveJob): Promise<RedriveRun> {
  const { options, selects, auditRef } = job;
  const run = newRun(queue, 'rabbitmq', options.execute ?? false);
  const { result } = run;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const total = await depth(ctx, queue);
  const conn = await ctx.amqp();
  // Deliveries on one channel, re-publishes on a confirm channel; a dead letter is acked only
  // after the broker confirmed its re-publish. Unselected and invalid messages stay unacked
  // until the end and go back to their positions when the channel closes.
  const sub = await conn.createChannel();
  // Re-publishes go over their own connection: the broker then reads deliveries/acks and
  // publishes/confirms in parallel instead of through one connection's processes.
  const pubConn = await connectRabbit(ctx.config, 'orderbus-ops-redrive');
  const pub = await pubConn.createConfirmChannel();
  sub.on('error', () => undefined);
  pub.on('error', () => undefined);
  const pacer = new Pacer(options.rate);
  const inbox: ConsumeMessage[] = [];
  let wake: (() => void) | undefined;
  let received = 0;
  const batchSize = options.rate ? Math.max(1, Math.min(500, Math.floor(options.rate))) : 500;
  let unconfirmed = 0;
  let windowOpen: (() => void) | undefined;
  let closed = false;
  const channelGone = () => {
    closed = true;
    windowOpen?.();
  };
  pub.on('close', channelGone);
  sub.on('close', channelGone);
  const assertOpen = () => {
    if (closed)
      throw new OrderbusError(
        'REDRIVE_CHANNEL_CLOSED',
        `the channel to RabbitMQ closed during the redrive of ${queue}`,
        {
          hint: `orderbus dlq redrive ${queue} --execute (what was not confirmed is still in the DLQ; running again is safe)`,
          retriable: true,
        },
      );
  };
  try {
    if (total === 0) {
      result.remaining = 0;
      return run;
    }
    const { consumerTag } = await sub.consume(
      queue,
      (msg) => {
        if (!msg) return;
        inbox.push(msg);
        wake?.();
      },
      { noAck: false },
    );
    let position = 0;
    let done = 0;
    const goal = Math.min(total, limit);
    options.onProgress?.(0, goal);
    // `total` counts only the messages ready at the start: others may be held unacked for a
    // moment by a browse (the console's DLQ screen refreshing) and come back when it closes, so
    // after the count the loop still waits a second for stragglers before it ends.
    while (result.selected < limit) {
      if (inbox.length === 0) {
        const got = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), received < total ? 3000 : 1000);
          wake = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        wake = undefined;
        if (!got) break; // nothing more came: fewer than counted (someone else took them) or all done
        continue;
      }
      const batch = inbox.splice(0, Math.min(inbox.length, batchSize));
      received += batch.length;
      for (const msg of batch) {
        const view = rabbitView(queue, msg, position++);
        if (result.selected >= limit || !selects(view)) continue;
        const d = decide(view, options, validateTask, result.items.length < ITEMS_KEPT);
        record(result, d);
        if (!d.item.valid || !options.execute) continue;
        const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
        const dest = rabbitDestination(view.headers, queue);
        if (!dest) {
          // Found only when sending: the dry run counted it as one to redrive.
          invalidate(d, 'no original destination in its headers');
          result.invalid++;
          result.toRedrive--;
          continue;
        }
        await pacer.take();
        while (unconfirmed >= CONFIRM_WINDOW && !closed) await new Promise<void>((r) => (windowOpen = r));
        assertOpen();
        const body = d.item.changed ? Buffer.from(JSON.stringify(d.after)) : msg.content;
        const item = d.item;
        unconfirmed++;
        // Each dead letter is acked from its own publish confirm: publishing streams on without
        // waiting batch by batch, and nothing is acked that the broker did not confirm.
        pub.publish(
          dest.exchange,
          dest.routingKey,
          body,
          {
            ...msg.properties,
            persistent: true,
            headers: {
              ...h,
              [TaskHeaders.attempt]: 1,
              [TaskHeaders.redriveCount]: view.redriveCount + 1,
              [TaskHeaders.auditRef]: auditRef ?? '',
            },
          },
          (err: unknown) => {
            unconfirmed--;
            if (err) {
              result.failed++;
              item.outcome = 'failed';
            } else {
              try {
                sub.ack(msg);
                result.redriven++;
              } catch {
                // The delivery channel is gone: the dead letter is requeued; at worst a duplicate.
                result.failed++;
                item.outcome = 'failed';
              }
            }
            windowOpen?.();
          },
        );
        keepHash(run.payloadHashes, view.id, sha256(msg.content), d.item.changed ? sha256(body) : undefined);
      }
      done += batch.length;
      options.onProgress?.(Math.min(done, goal), goal);
    }
    await pub.waitForConfirms().catch(() => undefined);
    while (unconfirmed > 0 && !closed) await new Promise<void>((r) => (windowOpen = r));
    assertOpen();
    await sub.cancel(consumerTag).catch(() => undefined);
  } finally {
    await sub.close().catch(() => undefined);
    await pub.close().catch(() => undefined);
    await pubConn.close().catch(() => undefined);
  }
  result.remaining = await depth(ctx, queue);
  return run;
}

export const rabbitEngine: DlqEngine = {
  kind: 'rabbitmq',

  async list(ctx) {
    return (await listQueues(ctx)).filter((q) => q.role === 'dlq').map((q) => q.name);
  },

  async browse(ctx, name, fn, cap = Number.POSITIVE_INFINITY) {
    const count = await depth(ctx, name);
    await browseQueue(ctx, name, Math.min(count, cap), fn);
    return count;
  },

  redrive,

  async purge(ctx, name, execute) {
    const count = await depth(ctx, name);
    const payloadHashes: PayloadHash[] = [];
    if (!execute) return { count, payloadHashes };
    // Hash what is there, then take exactly those (ack) — never a blind purge of what arrives meanwhile.
    const removed = await browseQueue(ctx, name, count, (m, msg, ack) => {
      keepHash(payloadHashes, m.id, sha256(msg.content));
      ack();
    });
    return { count: removed, payloadHashes };
  },
};

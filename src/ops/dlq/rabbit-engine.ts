import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import { OrderbusError } from '../../errors.js';
import { managementApi } from '../../adapters/rabbitmq.js';
import { TaskHeaders } from '../../tasks/topology.js';
import { sha256 } from '../audit.js';
import type { OpsContext } from '../context.js';
import { rabbitDlqNames } from './dlq-names.js';
import type { Json } from './edits.js';
import { isForeignLetter, plannedView, rabbitDestination, rabbitView } from './message-view.js';
import { Pacer } from './pacer.js';
import { decide, fail, keepHash, keepsHashes, keepsItems, newRun, record, redriveLimit } from './plan.js';
import { REDRIVE_SEQ_HEADER, Republisher } from './rabbit-publisher.js';
import { depth, holdEach, letterHeaders, takeEach, type Acks } from './rabbit-stream.js';
import type { DlqEngine, DlqMessage, PayloadHash, RedriveJob, RedriveRun } from './types.js';

/**
 * RabbitMQ `*.dlq` queues, over the snapshot of letters ready when a command starts
 * (rabbit-stream.ts). Browses and dry runs hold the letters unacknowledged and give them back in
 * place. An execute takes them a window at a time: a letter is acked only after its re-publish
 * was routed and confirmed; a letter it leaves (not selected, invalid, unroutable, its exchange
 * gone) is re-appended to the DLQ's tail, confirmed, then acked — so nothing is held for the
 * whole run and a kill at any point loses nothing (at worst a copy the receivers deduplicate).
 */

/** Set on letters an execute left in the DLQ: meeting its own again means it went round the queue. */
const LEFT_BY_HEADER = 'x-orderbus-left-by';

/** Letters unacknowledged at most during an execute (fast runs); a rate-limited run holds about a second's worth. */
const WINDOW = 500;

const windowFor = (rate: number | undefined): number =>
  rate ? Math.max(1, Math.min(WINDOW, Math.ceil(rate))) : WINDOW;

type TaskValidator = (p: Json) => string[];

/**
 * A task must validate (another application's letter need not) and have somewhere to go back to.
 * The task schemas compile as their module loads: loaded by a redrive, not by every browse.
 */
const validatorFor =
  (validateTask: TaskValidator, queue: string, view: DlqMessage) =>
  (p: Json): string[] => [
    ...(isForeignLetter(view) ? [] : validateTask(p)),
    ...(rabbitDestination(view.headers, queue) ? [] : ['no original destination in its headers']),
  ];

/** The settlements of an execute: each re-publish ends in an ack or a letter left in the DLQ. */
class Settler {
  private readonly pending = new Set<Promise<void>>();
  constructor(
    private readonly pub: Republisher,
    private readonly queue: string,
    private readonly runId: string,
  ) {}

  track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Re-appends a letter to the DLQ's tail, then acks the delivery; if that fails it stays unacked (back in place on close). */
  leave(acks: Acks, msg: ConsumeMessage): void {
    const headers: Record<string, unknown> = { ...letterHeaders(msg), [LEFT_BY_HEADER]: this.runId };
    delete headers[REDRIVE_SEQ_HEADER];
    this.track(
      this.pub.send('', this.queue, msg.content, { ...msg.properties, headers }).then((out) => {
        if (out === null) acks.ack(msg);
        else acks.keep(msg);
      }),
    );
  }
}

async function redrive(ctx: OpsContext, queue: string, job: RedriveJob): Promise<RedriveRun> {
  const { options, selects, auditRef } = job;
  const execute = options.execute ?? false;
  const run = newRun(queue, 'rabbitmq', execute, options.itemsKept);
  const { result } = run;
  const limit = redriveLimit(job);
  const { validateTask } = await import('../../tasks/task-schema.js');
  const snapshot = await depth(ctx, queue);
  result.snapshot = snapshot;
  const goal = Math.min(snapshot, limit);
  options.onProgress?.(0, goal);
  const plan = (msg: ConsumeMessage, position: number) => {
    const view = rabbitView(queue, msg, position);
    if (result.selected >= limit || !selects(view)) return null;
    const d = decide(plannedView(view), options, validatorFor(validateTask, queue, view), keepsItems(result));
    record(result, d);
    return { view, d };
  };
  const progress = (n: number) => {
    if (n % 100 === 0 || n === goal) options.onProgress?.(Math.min(n, goal), goal);
  };

  if (!execute) {
    await holdEach(ctx, queue, snapshot, (msg, position) => {
      plan(msg, position);
      progress(position + 1);
      return result.selected < limit;
    });
  } else {
    const runId = randomUUID();
    const pub = await Republisher.open(ctx, runId);
    const settler = new Settler(pub, queue, runId);
    const pacer = new Pacer(options.rate);
    try {
      await takeEach(
        ctx,
        queue,
        { max: snapshot, window: windowFor(options.rate) },
        async (msg, position, acks) => {
          // Past the limit (or the plan's last letter) nothing is touched: the close gives it back.
          if (pub.closed || result.selected >= limit) return false;
          const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
          if (h[LEFT_BY_HEADER] === runId) {
            acks.requeue(msg); // went round the queue: the snapshot is done
            return false;
          }
          const p = plan(msg, position);
          progress(position + 1);
          if (!p || !p.d.item.valid) {
            settler.leave(acks, msg);
            return !p || result.selected < limit;
          }
          const { view, d } = p;
          const dest = rabbitDestination(view.headers, queue);
          if (!dest) throw new Error('unreachable: validated letters have a destination');
          if (!(await pub.exchangeExists(dest.exchange))) {
            fail(run, d, `exchange '${dest.exchange}' does not exist; left in ${queue}`);
            settler.leave(acks, msg);
            return result.selected < limit;
          }
          await pacer.take();
          const body = d.item.changed && d.afterText !== null ? Buffer.from(d.afterText) : msg.content;
          const headers: Record<string, unknown> = {
            ...letterHeaders(msg),
            [TaskHeaders.attempt]: 1,
            [TaskHeaders.redriveCount]: view.redriveCount + 1,
            [TaskHeaders.auditRef]: auditRef ?? '',
          };
          delete headers[LEFT_BY_HEADER];
          if (keepsHashes(run.payloadHashes))
            keepHash(
              run.payloadHashes,
              view.id,
              sha256(msg.content),
              d.item.changed ? sha256(body) : undefined,
            );
          settler.track(
            pub.send(dest.exchange, dest.routingKey, body, { ...msg.properties, headers }).then((out) => {
              if (out === null) {
                acks.ack(msg, (ok) => {
                  if (ok) result.redriven++;
                  else fail(run, d, 'the delivery channel closed before the ack; still in the DLQ');
                });
                return;
              }
              fail(run, d, out.channelGone ? out.reason : `${out.reason}; left in ${queue}`);
              if (out.channelGone) acks.keep(msg);
              else settler.leave(acks, msg);
            }),
          );
          return result.selected < limit;
        },
        () => settler.drain(),
      );
    } finally {
      await pub.close();
    }
    if (pub.closed && result.redriven + result.failed < result.toRedrive)
      throw new OrderbusError(
        'REDRIVE_CHANNEL_CLOSED',
        `the channel to RabbitMQ closed during the redrive of ${queue}`,
        {
          hint: `orderbus dlq redrive ${queue} --execute (what was not confirmed is still in the DLQ; running again is safe)`,
          retriable: true,
        },
      );
  }
  result.remaining = await depth(ctx, queue);
  result.arrived = Math.max(0, result.remaining - (snapshot - result.redriven));
  return run;
}

/** Unacknowledged messages of a queue (management API; 0 when it cannot tell). */
async function heldElsewhere(ctx: OpsContext, queue: string): Promise<number> {
  const path = `/queues/${encodeURIComponent(ctx.config.rabbitmq.vhost)}/${encodeURIComponent(queue)}?columns=messages_unacknowledged`;
  return managementApi<{ messages_unacknowledged?: number }>(ctx.config, path).then(
    (q) => q.messages_unacknowledged ?? 0,
    () => 0,
  );
}

/** Whether a letter's body or a text header holds `needle` (before it is parsed into a view). */
function letterHolds(msg: ConsumeMessage, needle: string): boolean {
  if (msg.content.includes(needle)) return true;
  const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
  return Object.values(h).some((v) => (typeof v === 'string' || Buffer.isBuffer(v)) && v.includes(needle));
}

export const rabbitEngine: DlqEngine = {
  kind: 'rabbitmq',

  /**
   * The RabbitMQ DLQs of a target with RabbitMQ (config.components): on a Kafka-only target the
   * default management address is no part of it (a local RabbitMQ's queues would be listed as the
   * target's, or one that is not there would fail the Kafka DLQs with it).
   */
  list: (ctx) => (ctx.config.components.includes('rabbitmq') ? rabbitDlqNames(ctx) : Promise.resolve([])),

  async browse(ctx, name, fn, options = {}) {
    const cap = options.cap ?? Number.POSITIVE_INFINITY;
    // Letters another browse or plan holds (unacked) are dead letters too: the count is ready +
    // unacked, as `status`, `queues` and the console count them. Known before this browse holds
    // any (the management figures lag a few seconds and would count ours twice after).
    const held = heldElsewhere(ctx, name);
    let count = 0;
    const { needle } = options;
    const snapshot = async (ready: number) => {
      count = ready + (await held);
      return Math.min(ready, cap);
    };
    const read = await holdEach(ctx, name, snapshot, (msg, position) => {
      if (position % 1000 === 999) options.onRead?.(position + 1);
      if (needle !== undefined && !letterHolds(msg, needle)) return true;
      return fn(rabbitView(name, msg, position));
    });
    return { count, read };
  },

  redrive,

  async purge(ctx, name, execute, only) {
    const snapshot = await depth(ctx, name);
    const payloadHashes: PayloadHash[] = [];
    if (!execute) return { count: snapshot, payloadHashes };
    // Exactly the snapshot (or the confirmed plan's letters), never a blind purge of what arrives meanwhile.
    const runId = randomUUID();
    const pub = await Republisher.open(ctx, runId);
    const settler = new Settler(pub, name, runId);
    let removed = 0;
    try {
      await takeEach(
        ctx,
        name,
        { max: snapshot, window: WINDOW },
        async (msg, position, acks) => {
          if (only && removed >= only.planned) return false;
          const view = rabbitView(name, msg, position);
          if (view.headers[LEFT_BY_HEADER] === runId) {
            acks.requeue(msg);
            return false;
          }
          if (only && !only.selects(view)) {
            settler.leave(acks, msg);
            return true;
          }
          keepHash(payloadHashes, view.id, sha256(msg.content));
          removed++;
          acks.ack(msg, (ok) => {
            if (!ok) removed--; // the channel closed first: the letter is back
          });
          return !only || removed < only.planned;
        },
        () => settler.drain(),
      );
    } finally {
      await pub.close();
    }
    const remaining = await depth(ctx, name);
    return { count: removed, payloadHashes, arrived: Math.max(0, remaining - (snapshot - removed)) };
  },
};

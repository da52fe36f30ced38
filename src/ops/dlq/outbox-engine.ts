import { isOrderbusError } from '../../errors.js';
import { EventCodec } from '../../events/codec.js';
import type { EventEnvelope } from '../../events/types.js';
import { isPoison, parkReason } from '../../pipeline/outbox-relay.js';
import { sha256 } from '../audit.js';
import type { OpsContext } from '../context.js';
import type { Json } from './json.js';
import { OUTBOX_DLQ } from './outbox-name.js';
import {
  discard,
  eachParked,
  hasOutbox,
  parkedSince,
  snapshotOf,
  unpark,
  withOutbox,
} from './outbox-rows.js';
import { Pacer } from './pacer.js';
import { decide, fail, invalidate, keepHash, keepsItems, newRun, record, redriveLimit } from './plan.js';
import type { DlqEngine, DlqMessage, PayloadHash, RedriveJob, RedriveRun } from './types.js';

/**
 * The outbox's parked rows (outbox-rows.ts): events the relay could not encode, so it set them
 * aside and published the rest of their shard. A redrive validates each (edited) envelope against
 * its event schema through the registry, as the relay encodes it, before anything changes, then
 * un-parks it: the relay publishes it (at least once; the consumers' inboxes drop copies by
 * eventId). A purge marks rows discarded: kept with the purge's audit id, never sent, not counted.
 */

/** An envelope the relay can key and shard as the parked row: same event, same order. */
const validatorFor =
  (m: DlqMessage) =>
  (p: Json): string[] => {
    const e = (typeof p === 'object' && p !== null && !Array.isArray(p) ? p : {}) as Record<string, Json>;
    const was = (m.payload ?? {}) as Record<string, Json>;
    const problems: string[] = [];
    if (typeof e.type !== 'string') problems.push('an event envelope needs a string "type"');
    for (const key of ['eventId', 'orderId'])
      if (e[key] !== was[key])
        problems.push(
          `${key} may not change (the outbox row's ${key === 'eventId' ? 'dedup key' : 'order'})`,
        );
    return problems;
  };

/** Plans one row: edits, then the schema through the registry (a registry that is away fails the run). */
async function planRow(codec: EventCodec, m: DlqMessage, job: RedriveJob, withDiff: boolean) {
  const d = decide(m, job.options, validatorFor(m), withDiff);
  if (d.item.valid)
    try {
      await codec.encode(d.after as unknown as EventEnvelope);
    } catch (e) {
      if (!isPoison(e)) throw e;
      invalidate(d, `schema: ${parkReason(e)}`);
    }
  return d;
}

async function redrive(ctx: OpsContext, name: string, job: RedriveJob): Promise<RedriveRun> {
  const { options, selects, auditRef } = job;
  const execute = options.execute ?? false;
  const run = newRun(name, 'outbox', execute, options.itemsKept);
  const { result } = run;
  const limit = redriveLimit(job);
  const codec = EventCodec.fromConfig(ctx.config, ctx.config.topics.orderEvents);
  const pacer = new Pacer(options.rate);
  return withOutbox(ctx, async (pool) => {
    const snap = await snapshotOf(pool);
    result.snapshot = snap.count;
    const goal = Math.min(snap.count, limit);
    let seen = 0;
    options.onProgress?.(0, goal);
    await eachParked(ctx, pool, snap, async (m) => {
      if (result.selected >= limit) return false;
      seen++;
      if (selects(m)) {
        const d = await planRow(codec, m, job, keepsItems(result));
        record(result, d);
        if (execute && d.item.valid && d.after !== null) {
          await pacer.take();
          if (await unpark(pool, m, d.after, auditRef)) {
            result.redriven++;
            keepHash(
              run.payloadHashes,
              m.id,
              sha256(m.raw),
              d.item.changed ? sha256(JSON.stringify(d.after)) : undefined,
            );
          } else
            fail(run, d, `no longer parked as read: another command redrove, purged or changed it meanwhile`);
        }
      }
      if (seen % 100 === 0) options.onProgress?.(Math.min(seen, goal), goal);
    });
    options.onProgress?.(goal, goal);
    const now = await parkedSince(pool, snap.at);
    result.remaining = now.remaining;
    result.arrived = now.arrived;
    return run;
  });
}

export const outboxEngine: DlqEngine = {
  kind: 'outbox',

  /**
   * `outbox.parked` on a target with orderbus's database (whether or not any row is parked). A
   * database that cannot be reached leaves it out instead of failing the brokers' DLQs with it:
   * `dlq list` and the console keep working through a database restart (`status` names postgres
   * down and its parkedOutbox null meanwhile).
   */
  async list(ctx) {
    if (!ctx.config.components.includes('postgres')) return [];
    try {
      return (await withOutbox(ctx, hasOutbox)) ? [OUTBOX_DLQ] : [];
    } catch (e) {
      if (isOrderbusError(e) && e.code === 'POSTGRES_UNREACHABLE') return [];
      throw e;
    }
  },

  async owns(ctx, name) {
    return name === OUTBOX_DLQ && ctx.config.components.includes('postgres') && withOutbox(ctx, hasOutbox);
  },

  browse(ctx, _name, fn, options = {}) {
    const cap = options.cap ?? Number.POSITIVE_INFINITY;
    return withOutbox(ctx, async (pool) => {
      const snap = await snapshotOf(pool);
      let read = 0;
      if (cap > 0) await eachParked(ctx, pool, snap, (m) => fn(m) !== false && ++read < cap);
      return { count: snap.count, read };
    });
  },

  redrive,

  purge(ctx, _name, execute, only, auditRef) {
    return withOutbox(ctx, async (pool) => {
      const snap = await snapshotOf(pool);
      const payloadHashes: PayloadHash[] = [];
      if (!execute) return { count: snap.count, payloadHashes };
      let count = 0;
      await eachParked(ctx, pool, snap, async (m) => {
        if (only && count >= only.planned) return false;
        if (only && !only.selects(m)) return;
        if (await discard(pool, m, auditRef ?? '')) {
          count++;
          keepHash(payloadHashes, m.id, sha256(m.raw));
        }
      });
      return { count, payloadHashes, arrived: (await parkedSince(pool, snap.at)).arrived };
    });
  },
};

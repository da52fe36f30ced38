import type { IHeaders } from 'kafkajs';
import { sendConfirmed } from '../../adapters/kafka.js';
import type { KafkaRecord } from '../../adapters/kafka-fetch.js';
import { EventCodec } from '../../events/codec.js';
import { OrderbusError, errorMessage } from '../../errors.js';
import { sha256 } from '../audit.js';
import type { OpsContext } from '../context.js';
import { kafkaOutstanding, moveCursor, outstandingCount, type KafkaRange } from './kafka-cursor.js';
import { kafkaDlqNames } from './dlq-names.js';
import { kafkaRedriveHeaders, kafkaRedrivePartition, planKafkaRecord } from './kafka-redrive-record.js';
import { kafkaView } from './message-view.js';
import { Pacer } from './pacer.js';
import { keepHash, newRun, record } from './plan.js';
import type { DlqEngine, DlqMessage, PayloadHash, RedriveJob, RedriveRun } from './types.js';

/**
 * Kafka `*.dlq` topics. Records are never deleted: redrive and purge move the DLQ's cursor
 * (kafka-cursor.ts), and a redrive moves it only after the producer's acks=all confirmed the
 * re-publish, so a kill at any point leaves the record outstanding (at worst re-published twice,
 * which the consumers' inbox absorbs by event id).
 */
const codecOf = (ctx: OpsContext) => EventCodec.fromConfig(ctx.config, ctx.config.topics.orderEvents);

/** Calls `fn` for the outstanding records of `ranges` in order, until it returns false or `cap` were read. */
async function eachDead(
  ctx: OpsContext,
  topic: string,
  ranges: KafkaRange[],
  fn: (m: DlqMessage, r: KafkaRecord) => boolean | void,
  cap = Number.POSITIVE_INFINITY,
): Promise<void> {
  const codec = codecOf(ctx);
  let seen = 0;
  let stop = false;
  for (const range of ranges) {
    if (stop || range.from >= range.until) continue;
    await ctx.reader().readRange(topic, range.partition, range.from, range.until, async (batch) => {
      for (const r of batch) {
        if (stop) return;
        if (range.handled.has(r.offset)) continue;
        if (fn(await kafkaView(codec, topic, r), r) === false || ++seen >= cap) stop = true;
      }
    });
  }
}

async function redrive(ctx: OpsContext, topic: string, job: RedriveJob): Promise<RedriveRun> {
  const { options, selects, auditRef } = job;
  const run = newRun(topic, 'kafka', options.execute ?? false);
  const { result } = run;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const codec = codecOf(ctx);
  const producer = options.execute ? await ctx.producer() : undefined;
  const pacer = new Pacer(options.rate);
  const ranges = await kafkaOutstanding(ctx, topic);
  const goal = Math.min(limit, outstandingCount(ranges));
  let done = 0;
  options.onProgress?.(0, goal);
  for (const range of ranges) {
    // The cursor may only move over a contiguous prefix of handled records.
    let cursor = range.from;
    let committed = cursor;
    let contiguous = true;
    await ctx.reader().readRange(topic, range.partition, range.from, range.until, async (batch) => {
      const sends: {
        messages: { key: Buffer | null; value: Buffer; headers: IHeaders; partition?: number }[];
        topic: string;
      }[] = [];
      const handled: number[] = [];
      for (const r of batch) {
        if (range.handled.has(r.offset)) {
          // Redriven by an earlier run while a record before it stayed in the DLQ.
          if (contiguous) cursor = r.offset + 1;
          continue;
        }
        if (result.selected >= limit) {
          contiguous = false;
          break;
        }
        const view = await kafkaView(codec, topic, r);
        if (!selects(view)) {
          contiguous = false;
          continue;
        }
        const { d, value } = await planKafkaRecord(codec, view, r, options);
        record(result, d);
        if (!d.item.valid || !value || !view.destination) {
          contiguous = false;
          continue;
        }
        if (!options.execute) continue;
        await pacer.take();
        const headers = kafkaRedriveHeaders(r, view, d, auditRef);
        const partition = await kafkaRedrivePartition(view, ctx.partitionsOf);
        sends.push({ topic: view.destination, messages: [{ key: r.key, value, headers, partition }] });
        keepHash(run.payloadHashes, view.id, sha256(r.value), d.item.changed ? sha256(value) : undefined);
        handled.push(r.offset);
        if (contiguous) cursor = r.offset + 1;
      }
      if (producer && sends.length > 0) {
        try {
          await sendConfirmed(producer, { acks: -1, topicMessages: sends }, ctx.partitionsOf);
          result.redriven += sends.length;
        } catch (e) {
          result.failed += sends.length;
          throw new OrderbusError('REDRIVE_PUBLISH_FAILED', `re-publish failed: ${errorMessage(e)}`, {
            hint: `orderbus dlq redrive ${topic} --execute (nothing was marked handled; it is safe to run again)`,
            cause: e,
          });
        }
        for (const o of handled) range.handled.add(o);
      }
      if (producer && (sends.length > 0 || cursor !== committed)) {
        for (const o of range.handled) if (o < cursor) range.handled.delete(o);
        await moveCursor(ctx, topic, [
          { partition: range.partition, offset: cursor, handled: range.handled },
        ]);
        committed = cursor;
      }
      done += batch.length;
      options.onProgress?.(Math.min(done, goal), goal);
    });
  }
  result.remaining = outstandingCount(await kafkaOutstanding(ctx, topic));
  return run;
}

export const kafkaEngine: DlqEngine = {
  kind: 'kafka',

  list: kafkaDlqNames,

  async browse(ctx, name, fn, cap) {
    const ranges = await kafkaOutstanding(ctx, name);
    await eachDead(ctx, name, ranges, fn, cap);
    return outstandingCount(ranges);
  },

  redrive,

  async purge(ctx, name, execute, only) {
    const ranges = await kafkaOutstanding(ctx, name);
    const payloadHashes: PayloadHash[] = [];
    if (!execute) return { count: outstandingCount(ranges), payloadHashes };
    // Only the letters of the confirmed plan: the cursor passes a prefix of handled ones, the
    // rest are remembered as handled past it.
    const marks = new Map(
      ranges.map((r) => [
        r.partition,
        { partition: r.partition, offset: r.from, handled: new Set(r.handled), contiguous: true },
      ]),
    );
    let count = 0;
    await eachDead(ctx, name, ranges, (m, r) => {
      const mark = marks.get(r.partition);
      if (!mark) return;
      if (only && !only.selects(m)) {
        mark.contiguous = false;
        return;
      }
      keepHash(payloadHashes, m.id, sha256(r.value));
      count++;
      if (mark.contiguous) mark.offset = r.offset + 1;
      else mark.handled.add(r.offset);
      return !only || count < only.planned;
    });
    for (const r of ranges) {
      const mark = marks.get(r.partition);
      if (!mark) continue;
      if (!only && mark.contiguous) mark.offset = r.until;
      while (mark.handled.has(mark.offset)) mark.offset++;
      for (const o of mark.handled) if (o < mark.offset) mark.handled.delete(o);
    }
    await moveCursor(ctx, name, [...marks.values()]);
    return { count, payloadHashes };
  },
};

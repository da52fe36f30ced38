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
import { kafkaHeadView, kafkaView, withPayload } from './message-view.js';
import { Pacer } from './pacer.js';
import { keepHash, newRun, record } from './plan.js';
import type { BrowseOptions, DlqEngine, DlqMessage, PayloadHash, RedriveJob, RedriveRun } from './types.js';

/**
 * Kafka `*.dlq` topics. Records are never deleted: redrive and purge move the DLQ's cursor
 * (kafka-cursor.ts), and a redrive moves it only after the producer's acks=all confirmed the
 * re-publish, so a kill at any point leaves the record outstanding (at worst re-published twice,
 * which the consumers' inbox absorbs by event id).
 */
const codecOf = (ctx: OpsContext) => EventCodec.fromConfig(ctx.config, ctx.config.topics.orderEvents);

/** A stretch [from, until) of one partition that a browse reads, skipping the handled offsets. */
interface Run {
  partition: number;
  from: number;
  until: number;
  handled: Set<number>;
}

/** Letters a run holds when a browse spreads its cap over the DLQ. */
const SPREAD_RUN = 250;

/**
 * The runs a browse reads: the outstanding ranges, or (`spread`, more outstanding than `cap`)
 * `cap` letters as evenly spaced runs over them, each partition's share by its size, its first
 * and last letters among them — a sample of the whole DLQ (oldest and newest included) at the
 * cost of a few fetches, never a scan.
 */
export function browseRuns(ranges: KafkaRange[], cap: number, spread: boolean): Run[] {
  const open = ranges.filter((r) => r.from < r.until);
  const total = outstandingCount(open);
  if (!spread || total <= cap) return open;
  const out: Run[] = [];
  for (const r of open) {
    const n = r.until - r.from;
    const mine = Math.max(2, Math.round((cap * n) / total));
    if (mine >= n) {
      out.push(r);
      continue;
    }
    const runs = Math.max(2, Math.ceil(mine / SPREAD_RUN));
    const len = Math.max(1, Math.floor(mine / runs));
    for (let k = 0; k < runs; k++) {
      const from = r.from + Math.floor(((n - len) * k) / (runs - 1));
      out.push({ partition: r.partition, from, until: from + len, handled: r.handled });
    }
  }
  return out;
}

/** Records a run's first fetch asks for, growing 4× a fetch up to FETCH_MAX: a first page costs one small fetch. */
const FETCH_FIRST = 100;
const FETCH_MAX = 20_000;
/** Bytes asked per record (a dead letter with its failure headers is about 1 KB), up to 4 MB a fetch. */
const FETCH_BYTES_PER_RECORD = 2048;

/** Hands `onBatch` the records of `run` in order, in growing fetches, until it returns false or the run ends. */
async function readRun(
  ctx: OpsContext,
  topic: string,
  run: Run,
  onBatch: (records: KafkaRecord[]) => Promise<boolean>,
): Promise<void> {
  let next = run.from;
  let want = FETCH_FIRST;
  while (next < run.until) {
    let go = true;
    let last = next - 1;
    const got = await ctx.reader().readRange(
      topic,
      run.partition,
      next,
      run.until,
      async (batch) => {
        if (!go) return;
        last = batch[batch.length - 1]?.offset ?? last;
        go = await onBatch(batch);
      },
      { maxRecords: want, maxBytes: Math.min(4 * 1024 * 1024, want * FETCH_BYTES_PER_RECORD) },
    );
    if (got === 0 || !go) return;
    next = last + 1;
    want = Math.min(FETCH_MAX, want * 4);
  }
}

/** Whether a record's key, value or a header value holds `needle` (before it is viewed). */
function recordHolds(r: KafkaRecord, needle: string): boolean {
  if (r.key?.includes(needle) || r.value?.includes(needle)) return true;
  return Object.values(r.rawHeaders).some((vs) => vs.some((v) => v.includes(needle)));
}

/**
 * Calls `fn` for the outstanding records of `runs` in order, until it returns false or `cap`
 * were read (a prefiltered record counts as read, and is not decoded); resolves to the records read.
 */
async function eachDead(
  ctx: OpsContext,
  topic: string,
  runs: Run[],
  fn: (m: DlqMessage, r: KafkaRecord) => boolean | void,
  options: Pick<BrowseOptions, 'cap' | 'prefilter' | 'onRead' | 'headsOnly' | 'needle'> = {},
): Promise<number> {
  const codec = codecOf(ctx);
  const cap = options.cap ?? Number.POSITIVE_INFINITY;
  let read = 0;
  let stop = read >= cap;
  for (const run of runs) {
    if (stop) break;
    await readRun(ctx, topic, run, async (batch) => {
      for (const r of batch) {
        if (run.handled.has(r.offset)) continue;
        read++;
        if (options.needle !== undefined && !recordHolds(r, options.needle)) continue;
        const head = kafkaHeadView(topic, r);
        if (!options.prefilter || options.prefilter(head))
          stop = fn(options.headsOnly ? head : await withPayload(codec, head, r), r) === false;
        if (stop || read >= cap) {
          stop = true;
          break;
        }
      }
      options.onRead?.(read);
      return !stop;
    });
  }
  return read;
}

/** Each range from its first record written at or after `since` (ListOffsets by timestamp). */
async function rangesSince(ctx: OpsContext, topic: string, ranges: KafkaRange[], since: number) {
  const at = await (await ctx.admin()).fetchTopicOffsetsByTimestamp(topic, since);
  return ranges.map((r) => {
    const o = Number(at.find((x) => x.partition === r.partition)?.offset ?? r.until);
    return { ...r, from: Math.min(r.until, Math.max(r.from, o)) };
  });
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

  async browse(ctx, name, fn, options = {}) {
    const ranges = await kafkaOutstanding(ctx, name);
    const count = outstandingCount(ranges);
    const from = options.since === undefined ? ranges : await rangesSince(ctx, name, ranges, options.since);
    const cap = options.cap ?? Number.POSITIVE_INFINITY;
    const runs = browseRuns(from, cap, options.spread ?? false);
    // A spread sample reads its runs whole: the cap is in their lengths.
    const read = await eachDead(ctx, name, runs, fn, { ...options, cap: options.spread ? Infinity : cap });
    return { count, read };
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
    await eachDead(ctx, name, browseRuns(ranges, Infinity, false), (m, r) => {
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

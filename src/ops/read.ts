import { usageError } from '../errors.js';
import type { OpsContext } from './context.js';
import { parseFilter } from './dlq/filter.js';
import { assertTopicExists } from './lag.js';
import { filterView, RecordDecoder, type ReadRecord } from './read-record.js';

export type { ReadHeader, ReadRecord } from './read-record.js';

/**
 * `orderbus read TOPIC`: what kcat -C is to on-call engineers, read straight from the partition
 * leaders (KafkaLogReader's raw Fetch): it joins no consumer group and commits nothing. Records are
 * handed to `onRecord` one at a time as each batch arrives, never collected, so memory stays
 * bounded by one fetch whatever the range.
 */
export type ReadStart = { offset: number } | { time: Date } | { last: number };
export type ReadEnd = { offset: number } | { time: Date };

export interface ReadRequest {
  topic: string;
  /** Only these partitions (default: all). */
  partitions?: number[];
  /** Where each partition starts (default: the log start). */
  from?: ReadStart;
  /** Where each partition ends, exclusive (default: the log end when the read starts). */
  until?: ReadEnd;
  /** Only records whose key (as text) is this. */
  key?: string;
  /** The `dlq --filter` language over key, headers.NAME and payload.a.b. */
  filter?: string;
  /** Stop after this many matching records. */
  limit?: number;
  /** Keep reading new records until `signal` aborts (past `until`'s log end). */
  follow?: boolean;
  signal?: AbortSignal;
  /** How long --follow waits between polls of a quiet topic. */
  pollMs?: number;
}

export interface ReadPartitionRange {
  partition: number;
  from: number;
  /** Exclusive; null with --follow and no --until. */
  until: number | null;
  /** Records read from the log, and of those the ones that matched --key / --filter. */
  read: number;
  matched: number;
}

export interface ReadSummary {
  topic: string;
  partitions: ReadPartitionRange[];
  read: number;
  matched: number;
}

type Marks = Map<number, { low: number; high: number }>;

/** Each partition's first offset at or after `at` (the log end when there is none). */
async function offsetsAt(
  ctx: OpsContext,
  topic: string,
  at: Date,
  marks: Marks,
): Promise<Map<number, number>> {
  const r = await (await ctx.admin()).fetchTopicOffsetsByTimestamp(topic, at.getTime());
  return new Map(
    r.map((x) => {
      const o = Number(x.offset);
      return [x.partition, o < 0 ? (marks.get(x.partition)?.high ?? 0) : o];
    }),
  );
}

/** The [from, until) of each chosen partition, clamped to the log. */
export async function readRanges(ctx: OpsContext, req: ReadRequest): Promise<ReadPartitionRange[]> {
  const admin = await ctx.admin();
  await assertTopicExists(ctx, req.topic);
  const marks: Marks = new Map(
    (await admin.fetchTopicOffsets(req.topic)).map((m) => [
      m.partition,
      { low: Number(m.low), high: Number(m.high) },
    ]),
  );
  const all = [...marks.keys()].sort((a, b) => a - b);
  for (const p of req.partitions ?? [])
    if (!marks.has(p))
      throw usageError(
        'UNKNOWN_PARTITION',
        `${req.topic} has partitions 0..${all.length - 1}; there is no partition ${p}`,
        `orderbus read ${req.topic} --partition 0`,
      );
  const from = req.from;
  const starts = from && 'time' in from ? await offsetsAt(ctx, req.topic, from.time, marks) : undefined;
  const ends =
    req.until && 'time' in req.until ? await offsetsAt(ctx, req.topic, req.until.time, marks) : undefined;
  return all
    .filter((p) => !req.partitions || req.partitions.includes(p))
    .map((p) => {
      const { low, high } = marks.get(p) as { low: number; high: number };
      let start = low;
      if (from && 'offset' in from) start = from.offset;
      else if (from && 'last' in from) start = high - from.last;
      else if (starts) start = starts.get(p) ?? high;
      start = Math.max(low, req.follow ? start : Math.min(start, high));
      let end: number | null = req.follow ? null : high;
      if (req.until) end = 'offset' in req.until ? req.until.offset : (ends?.get(p) ?? high);
      if (end !== null) end = Math.max(start, req.follow ? end : Math.min(end, high));
      return { partition: p, from: start, until: end, read: 0, matched: 0 };
    });
}

/**
 * Reads the ranges, partition after partition, and hands each matching record to `onRecord`
 * (awaited: a slow consumer such as a full pipe slows the read instead of filling memory). With
 * `follow`, it then polls every partition for new records until `signal` aborts.
 */
export async function readTopic(
  ctx: OpsContext,
  req: ReadRequest,
  onRecord: (r: ReadRecord) => Promise<void> | void,
): Promise<ReadSummary> {
  const matches = parseFilter(req.filter);
  const ranges = await readRanges(ctx, req);
  const decoder = new RecordDecoder(ctx.config);
  const reader = ctx.reader();
  const limit = req.limit ?? Number.POSITIVE_INFINITY;
  let matched = 0;
  const stopped = () => matched >= limit || req.signal?.aborted === true;
  const next = new Map(ranges.map((r) => [r.partition, r.from]));
  /** One pass over each partition from where it got to; the number of records read. */
  const pass = async (): Promise<number> => {
    let read = 0;
    for (const range of ranges) {
      const end = range.until ?? Number.MAX_SAFE_INTEGER;
      const start = next.get(range.partition) as number;
      if (stopped() || start >= end) continue;
      await reader.readRange(req.topic, range.partition, start, end, async (batch) => {
        for (const raw of batch) {
          next.set(range.partition, raw.offset + 1);
          if (stopped()) return;
          range.read++;
          read++;
          const rec = await decoder.view(raw);
          if (req.key !== undefined && rec.key !== req.key) continue;
          if (!matches(filterView(rec))) continue;
          range.matched++;
          matched++;
          await onRecord(rec);
        }
      });
    }
    return read;
  };
  await pass();
  const reachedEnd = () =>
    ranges.every((r) => r.until !== null && (next.get(r.partition) as number) >= r.until);
  while (req.follow && !stopped() && !reachedEnd()) {
    if ((await pass()) === 0) await sleep(req.pollMs ?? 500, req.signal);
  }
  return {
    topic: req.topic,
    partitions: ranges,
    read: ranges.reduce((s, r) => s + r.read, 0),
    matched,
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

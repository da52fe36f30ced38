import type { OrderbusConfig } from '../../config.js';
import type { OpsContext } from '../context.js';
import { ensureOpsTopic, sendAcked, type OpsTopicSpec } from '../ops-topic.js';

/**
 * How far a Kafka DLQ has been handled. Its records are never deleted: per partition, the cursor
 * is the first record not handled, plus the records past it already handled (redriven or purged
 * while a record before them stayed: left by a filter, an invalid edit, a confirmed plan).
 *
 * The truth is a compacted topic (`orderbus.dlq-cursor`, key `<dlq>/<partition>`), written with
 * acks=all after the re-publish was acknowledged and read back to its high watermark: a consumer
 * group's committed offsets would be expired by the broker after `offsets.retention.minutes`
 * (7 days by default) while the DLQ keeps its records, and handled letters would come back. The
 * cursor group (`orderbus-dlq.<topic>`) is still committed, for `lag` and older versions, and read
 * as a floor (what an older version handled).
 */
export const cursorGroup = (topic: string) => `orderbus-dlq.${topic}`;

/** Beside the audit topic (`orderbus.audit` -> `orderbus.dlq-cursor`), so a namespace moves both. */
export function cursorTopic(config: OrderbusConfig): string {
  const audit = config.topics.audit;
  return audit.endsWith('audit') ? `${audit.slice(0, -'audit'.length)}dlq-cursor` : `${audit}.dlq-cursor`;
}

/** The cursor topic: compacted, one partition (created by `stack up`, or here when missing). */
export const cursorTopicSpec = (config: OrderbusConfig): OpsTopicSpec => ({
  topic: cursorTopic(config),
  configEntries: [
    { name: 'cleanup.policy', value: 'compact' },
    // Compacted often enough that reading it back stays short.
    { name: 'segment.ms', value: String(3600_000) },
    { name: 'min.cleanable.dirty.ratio', value: '0.1' },
  ],
});

/** One partition's outstanding records. */
export interface KafkaRange {
  partition: number;
  from: number;
  until: number;
  /** Offsets in [from, until) already handled: after a record left in place, the cursor cannot pass them. */
  handled: Set<number>;
}

export const outstandingCount = (ranges: KafkaRange[]): number =>
  ranges.reduce((s, r) => s + Math.max(0, r.until - r.from - r.handled.size), 0);

/** Offsets as sorted inclusive ranges: [[105, 110], [115, 115]]. */
export function toRanges(offsets: Iterable<number>): [number, number][] {
  const sorted = [...offsets].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const o of sorted) {
    const last = out[out.length - 1];
    if (last && o <= last[1] + 1) last[1] = Math.max(last[1], o);
    else out.push([o, o]);
  }
  return out;
}

function fromRanges(ranges: unknown, into = new Set<number>()): Set<number> {
  if (!Array.isArray(ranges)) return into;
  for (const r of ranges as unknown[]) {
    const [a, b] = Array.isArray(r) ? (r as unknown[]) : [];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) continue;
    for (let o = a as number; o <= (b as number) && o - (a as number) < 10_000_000; o++) into.add(o);
  }
  return into;
}

/** A cursor record's value. */
interface CursorValue {
  v: 1;
  next: number;
  handled: [number, number][];
}

const HANDLED_PREFIX = 'orderbus-dlq/1 handled=';
/** Kafka's default offset.metadata.max.bytes is 4096; the group's copy is a floor, the topic holds all. */
const HANDLED_MAX_CHARS = 3800;

/** The cursor commit's metadata: the offsets past the cursor already handled, as ranges ("105-110,115"). */
export function encodeHandled(offsets: Iterable<number>): string | null {
  const parts: string[] = [];
  let length = HANDLED_PREFIX.length;
  for (const [start, end] of toRanges(offsets)) {
    const part = start === end ? String(start) : `${start}-${end}`;
    if (length + part.length + 1 > HANDLED_MAX_CHARS) break;
    parts.push(part);
    length += part.length + 1;
  }
  return parts.length === 0 ? null : HANDLED_PREFIX + parts.join(',');
}

export function decodeHandled(metadata: string | null | undefined): Set<number> {
  if (!metadata?.startsWith(HANDLED_PREFIX)) return new Set();
  const ranges = metadata
    .slice(HANDLED_PREFIX.length)
    .split(',')
    .map((part) => {
      const [a, b] = part.split('-').map(Number);
      return [a, b !== undefined && Number.isSafeInteger(b) ? b : a];
    });
  return fromRanges(ranges);
}

/** Every partition's cursor of `topic` from the cursor topic, read to its high watermark. */
async function readCursors(ctx: OpsContext, topic: string): Promise<Map<number, CursorValue>> {
  const out = new Map<number, CursorValue>();
  const spec = cursorTopicSpec(ctx.config);
  if (!(await ensureOpsTopic(ctx, spec, false))) return out;
  const prefix = `${topic}/`;
  for (const m of await (await ctx.admin()).fetchTopicOffsets(spec.topic)) {
    await ctx.reader().readRange(spec.topic, m.partition, Number(m.low), Number(m.high), (batch) => {
      for (const r of batch) {
        const key = r.key?.toString('utf8');
        if (!key?.startsWith(prefix)) continue;
        const partition = Number(key.slice(prefix.length));
        if (!Number.isSafeInteger(partition)) continue;
        if (r.value === null) out.delete(partition);
        else {
          try {
            const v = JSON.parse(r.value.toString('utf8')) as CursorValue;
            if (Number.isSafeInteger(v.next)) out.set(partition, v);
          } catch {
            // not a cursor
          }
        }
      }
    });
  }
  return out;
}

/** Each partition's records between the cursor (or the log start) and the high watermark. */
export async function kafkaOutstanding(ctx: OpsContext, topic: string): Promise<KafkaRange[]> {
  const admin = await ctx.admin();
  const [marks, group, cursors] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: cursorGroup(topic), topics: [topic] }),
    readCursors(ctx, topic),
  ]);
  const committed = new Map((group[0]?.partitions ?? []).map((p) => [p.partition, p] as const));
  return marks
    .map((m) => {
      const c = committed.get(m.partition);
      const t = cursors.get(m.partition);
      const from = Math.max(Number(m.low), Number(c?.offset ?? -1), t?.next ?? -1);
      const until = Number(m.high);
      const all = fromRanges(t?.handled, decodeHandled(c?.metadata));
      const handled = new Set([...all].filter((o) => o >= from && o < until));
      return { partition: m.partition, from, until, handled };
    })
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Moves the cursor: `offset` is the first record not handled, `handled` those past it already
 * handled. Written to the cursor topic (acks=all; a failure throws, and the records stay
 * outstanding), then committed to the cursor group.
 */
export async function moveCursor(
  ctx: OpsContext,
  topic: string,
  marks: { partition: number; offset: number; handled?: Iterable<number> }[],
): Promise<void> {
  await sendAcked(
    ctx,
    cursorTopicSpec(ctx.config),
    marks.map((m) => {
      const value: CursorValue = { v: 1, next: m.offset, handled: toRanges(m.handled ?? []) };
      return { key: `${topic}/${m.partition}`, value: JSON.stringify(value) };
    }),
  );
  // The group's copy is for `lag` and older versions only: the topic above is the truth.
  await ctx
    .reader()
    .commitGroupOffsets(
      cursorGroup(topic),
      topic,
      marks.map((m) => ({
        partition: m.partition,
        offset: m.offset,
        metadata: encodeHandled(m.handled ?? []),
      })),
    )
    .catch(() => undefined);
}

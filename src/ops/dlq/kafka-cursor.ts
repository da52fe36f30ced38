import type { OpsContext } from '../context.js';

/**
 * How far a Kafka DLQ has been handled. Its records are never deleted; a per-DLQ cursor group
 * (`orderbus-dlq.<topic>`) commits, per partition, the first record not handled and, in the
 * commit's metadata, the records past it already redriven (a record left in the DLQ ahead of
 * them holds the cursor back).
 */
export const cursorGroup = (topic: string) => `orderbus-dlq.${topic}`;

/** One partition's outstanding records. */
export interface KafkaRange {
  partition: number;
  from: number;
  until: number;
  /** Offsets in [from, until) already redriven: after a record left in place, the cursor cannot pass them. */
  handled: Set<number>;
}

export const outstandingCount = (ranges: KafkaRange[]): number =>
  ranges.reduce((s, r) => s + Math.max(0, r.until - r.from - r.handled.size), 0);

const HANDLED_PREFIX = 'orderbus-dlq/1 handled=';
/** Kafka's default offset.metadata.max.bytes is 4096; what does not fit is redriven again (a duplicate at worst). */
const HANDLED_MAX_CHARS = 3800;

/** The cursor commit's metadata: the offsets past the cursor already redriven, as ranges ("105-110,115"). */
export function encodeHandled(offsets: Iterable<number>): string | null {
  const sorted = [...offsets].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const parts: string[] = [];
  let length = HANDLED_PREFIX.length;
  for (let i = 0; i < sorted.length;) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i] as number;
    i++;
    const part = start === end ? String(start) : `${start}-${end}`;
    if (length + part.length + 1 > HANDLED_MAX_CHARS) break;
    parts.push(part);
    length += part.length + 1;
  }
  return HANDLED_PREFIX + parts.join(',');
}

export function decodeHandled(metadata: string | null | undefined): Set<number> {
  const out = new Set<number>();
  if (!metadata?.startsWith(HANDLED_PREFIX)) return out;
  for (const part of metadata.slice(HANDLED_PREFIX.length).split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isSafeInteger(a)) continue;
    const end = b !== undefined && Number.isSafeInteger(b) ? b : a;
    for (let o = a; o <= end && o - a < 1_000_000; o++) out.add(o);
  }
  return out;
}

/** Each partition's records between the cursor (or the log start) and the high watermark. */
export async function kafkaOutstanding(ctx: OpsContext, topic: string): Promise<KafkaRange[]> {
  const admin = await ctx.admin();
  const [marks, cursor] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: cursorGroup(topic), topics: [topic] }),
  ]);
  const committed = new Map((cursor[0]?.partitions ?? []).map((p) => [p.partition, p] as const));
  return marks
    .map((m) => {
      const low = Number(m.low);
      const c = committed.get(m.partition);
      const from = Math.max(low, Number(c?.offset ?? -1));
      const until = Number(m.high);
      const handled = new Set([...decodeHandled(c?.metadata)].filter((o) => o >= from && o < until));
      return { partition: m.partition, from, until, handled };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** Commits the cursor: `offset` is the first record not handled, `handled` those past it already redriven. */
export async function moveCursor(
  ctx: OpsContext,
  topic: string,
  marks: { partition: number; offset: number; handled?: Iterable<number> }[],
): Promise<void> {
  await ctx.reader().commitGroupOffsets(
    cursorGroup(topic),
    topic,
    marks.map((m) => ({
      partition: m.partition,
      offset: m.offset,
      metadata: encodeHandled(m.handled ?? []),
    })),
  );
}

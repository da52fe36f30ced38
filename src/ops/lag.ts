import { AssignerProtocol, type Admin, type GroupDescription } from 'kafkajs';
import { unknownNameError } from '../errors.js';
import type { OpsContext } from './context.js';
import { LagMonitor, sortWorstFirst } from './lag-monitor.js';
import type { GroupSample, LagQuery, LagReport, LagSnapshot, PartitionOwner } from './lag-types.js';

/**
 * Consumer lag, the way `kafka-consumer-groups.sh --describe` computes it (log-end offset minus
 * committed offset, per partition), plus what it lacks: time lag (age of the oldest unconsumed
 * record), drain rate and ETA, and Burrow-style statuses from a sliding window of samples.
 * Read-only: never joins a group and never writes an offset. This file reads the cluster; the
 * window is lag-monitor.ts, the status rules lag-rules.ts, the shapes lag-types.ts.
 */
export type * from './lag-types.js';
export { LagMonitor, sortWorstFirst } from './lag-monitor.js';
export { STALL_MIN_WINDOW_MS, worstStatus } from './lag-rules.js';

const CONCURRENCY = 16;

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const idx = i++;
        out[idx] = await fn(items[idx] as T);
      }
    }),
  );
  return out;
}

/** Every consumer group (or the ones named, each checked to exist). */
export async function resolveGroups(admin: Admin, wanted: string[] | undefined): Promise<string[]> {
  const { groups } = await admin.listGroups();
  const all = groups
    .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
    .map((g) => g.groupId)
    .sort();
  if (!wanted || wanted.length === 0) return all;
  for (const g of wanted) {
    if (!all.includes(g))
      throw unknownNameError('consumer group', g, all, 'orderbus lag (lists every group)', {
        code: 'UNKNOWN_GROUP',
      });
  }
  return [...new Set(wanted)];
}

export async function assertTopicExists(admin: Admin, topic: string): Promise<void> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic))
    throw unknownNameError(
      'topic',
      topic,
      topics,
      'orderbus stack status (topics are created by orderbus stack up)',
    );
}

/** Watermarks of topics, one ListOffsets round per topic. */
export async function watermarks(
  admin: Admin,
  topics: string[],
): Promise<Map<string, Map<number, { low: number; high: number }>>> {
  const out = new Map<string, Map<number, { low: number; high: number }>>();
  let existing: Promise<string[]> | undefined;
  await mapLimit(topics, CONCURRENCY, async (t) => {
    try {
      const offs = await admin.fetchTopicOffsets(t);
      out.set(t, new Map(offs.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }])));
    } catch (e) {
      // Groups keep commits for topics deleted since; such a topic has no lag to show.
      existing ??= admin.listTopics();
      if ((await existing).includes(t)) throw e;
    }
  });
  return out;
}

/** Who owns each `topic/partition`, from the members' assignments. */
function ownersOf(d: GroupDescription | undefined): Map<string, PartitionOwner> {
  const owners = new Map<string, PartitionOwner>();
  for (const m of d?.members ?? []) {
    const a =
      m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    for (const [topic, parts] of Object.entries(a?.assignment ?? {})) {
      for (const p of parts)
        owners.set(`${topic}/${p}`, { memberId: m.memberId, clientId: m.clientId, host: m.clientHost });
    }
  }
  return owners;
}

type Committed = Awaited<ReturnType<Admin['fetchOffsets']>>;

/** Committed offsets per `topic/partition` (a negative offset means none). */
function commitsOf(committed: Committed | undefined): Map<string, number> {
  const commits = new Map<string, number>();
  for (const t of committed ?? []) {
    for (const p of t.partitions) {
      if (Number(p.offset) >= 0) commits.set(`${t.topic}/${p.partition}`, Number(p.offset));
    }
  }
  return commits;
}

const splitKey = (k: string) => {
  const slash = k.lastIndexOf('/');
  return { topic: k.slice(0, slash), partition: Number(k.slice(slash + 1)) };
};

/** One snapshot: one DescribeGroups, one OffsetFetch per group, one ListOffsets per topic. */
export async function lagSnapshot(ctx: OpsContext, query: LagQuery = {}): Promise<LagSnapshot> {
  const admin = await ctx.admin();
  const groupIds = await resolveGroups(admin, query.groups);
  if (query.topic) await assertTopicExists(admin, query.topic);
  const at = Date.now();
  const [described, committed] = await Promise.all([
    groupIds.length ? admin.describeGroups(groupIds) : Promise.resolve({ groups: [] }),
    mapLimit(groupIds, CONCURRENCY, (groupId) => admin.fetchOffsets({ groupId })),
  ]);
  const perGroup = groupIds.map((group, i) => {
    const d = described.groups.find((g) => g.groupId === group);
    const owners = ownersOf(d);
    const commits = commitsOf(committed[i]);
    const keys = new Set([...owners.keys(), ...commits.keys()]);
    return { group, state: d?.state ?? 'Dead', members: d?.members.length ?? 0, owners, commits, keys };
  });
  const topics = new Set<string>();
  for (const g of perGroup)
    for (const k of g.keys) {
      const { topic } = splitKey(k);
      if (!query.topic || topic === query.topic) topics.add(topic);
    }
  const marks = await watermarks(admin, [...topics]);
  const groups: GroupSample[] = perGroup.map((g) => {
    const partitions = [...g.keys].flatMap((k) => {
      const { topic, partition } = splitKey(k);
      const w = marks.get(topic)?.get(partition);
      if (!w) return [];
      const committedAt = g.commits.get(k) ?? null;
      const owner = g.owners.get(k) ?? null;
      return [{ topic, partition, committed: committedAt, logStart: w.low, logEnd: w.high, owner }];
    });
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { group: g.group, state: g.state, members: g.members, partitions };
  });
  const recordTimestamps = query.timeLag
    ? await ctx.reader().timestamps(timeLagProbes(groups))
    : new Map<string, number>();
  return { at, groups, recordTimestamps };
}

/** The oldest unconsumed record of every partition with lag: its timestamp gives the time lag. */
function timeLagProbes(groups: GroupSample[]) {
  return groups.flatMap((g) =>
    g.partitions
      .filter((p) => p.committed !== null && p.logEnd > p.committed)
      .map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: Math.max(p.committed ?? 0, p.logStart),
      })),
  );
}

export interface LagReportOptions extends LagQuery {
  /** Seconds to sample for statuses; 0 takes a single snapshot. */
  sampleSeconds?: number;
  /** Samples taken over that time (at least 2 when sampleSeconds > 0). */
  samples?: number;
}

/** Samples for a few seconds and evaluates: what `orderbus lag` prints without --watch. */
export async function lagReport(ctx: OpsContext, options: LagReportOptions = {}): Promise<LagReport> {
  const seconds = options.sampleSeconds ?? ctx.config.lag.sampleSeconds;
  const n = seconds > 0 ? Math.max(2, options.samples ?? 4) : 1;
  const monitor = new LagMonitor(n, ctx.config.lag.thresholds);
  for (let i = 0; i < n; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, (seconds * 1000) / (n - 1)));
    monitor.add(await lagSnapshot(ctx, { ...options, timeLag: i === n - 1 && options.timeLag !== false }));
  }
  return sortWorstFirst(monitor.evaluate());
}

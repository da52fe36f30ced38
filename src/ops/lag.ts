import type { Admin } from 'kafkajs';
import type { DescribedGroup, ListedGroup } from '../adapters/kafka-groups.js';
import { unknownNameError } from '../errors.js';
import { mapLimit } from '../map-limit.js';
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

/**
 * Each group's committed offsets (of `topics`, or all), one OffsetFetch per group, 16 groups at a
 * time: a thousand groups cost a thousand small requests in flight 16 at once, not in sequence.
 */
export function committedOffsets(
  admin: Admin,
  groupIds: string[],
  topics?: string[],
): Promise<Awaited<ReturnType<Admin['fetchOffsets']>>[]> {
  return mapLimit(groupIds, CONCURRENCY, (groupId) =>
    admin.fetchOffsets(topics ? { groupId, topics } : { groupId }),
  );
}

/** Consumer groups only: not share or streams groups, nor Connect's workers (protocol type 'connect'). */
const isConsumerGroup = (g: ListedGroup): boolean =>
  (g.protocolType === 'consumer' || g.protocolType === '') &&
  (g.type === null || g.type === 'classic' || g.type === 'consumer');

/** Every consumer group of both protocols (or the ones named, each checked to exist), by name. */
export async function resolveGroups(ctx: OpsContext, wanted: string[] | undefined): Promise<ListedGroup[]> {
  const all = (await ctx.groups().list())
    .filter(isConsumerGroup)
    .sort((a, b) => a.groupId.localeCompare(b.groupId));
  if (!wanted || wanted.length === 0) return all;
  const names = all.map((g) => g.groupId);
  for (const g of wanted) {
    if (!names.includes(g))
      throw unknownNameError('consumer group', g, names, 'orderbus lag (lists every group)', {
        code: 'UNKNOWN_GROUP',
      });
  }
  return [...new Set(wanted)].map((g) => all.find((x) => x.groupId === g) as ListedGroup);
}

/**
 * Groups described by their own protocol: classic ones with DescribeGroups, consumer-protocol
 * (KIP-848) ones with ConsumerGroupDescribe. A group the cluster does not know is Dead with no
 * members. `listed` groups carry their type from ListGroups, which saves a request each.
 */
export async function describeGroups(
  ctx: OpsContext,
  groups: (string | ListedGroup)[],
): Promise<Map<string, DescribedGroup>> {
  const ids = groups.map((g) => (typeof g === 'string' ? g : g.groupId));
  const types = new Map(groups.flatMap((g) => (typeof g === 'string' ? [] : [[g.groupId, g.type] as const])));
  return ids.length > 0 ? ctx.groups().describe(ids, types) : new Map();
}

export async function assertTopicExists(ctx: OpsContext, topic: string): Promise<void> {
  // Metadata for this topic alone (lag --watch --topic asks on every refresh); the cluster's whole
  // topic list only for the error's "did you mean".
  if ((await ctx.existingTopics([topic])).has(topic)) return;
  throw unknownNameError(
    'topic',
    topic,
    await ctx.topicNames(),
    'orderbus stack status (topics are created by orderbus stack up)',
  );
}

/** Watermarks of topics (a topic deleted since has none): two ListOffsets per partition leader. */
export function watermarks(
  ctx: OpsContext,
  topics: string[],
): Promise<Map<string, Map<number, { low: number; high: number }>>> {
  return ctx.groups().watermarks(topics);
}

/** Who owns each `topic/partition`, from the members' assignments. */
function ownersOf(d: DescribedGroup | undefined): Map<string, PartitionOwner> {
  const owners = new Map<string, PartitionOwner>();
  for (const m of d?.members ?? []) {
    for (const { topic, partitions } of m.assignment) {
      for (const p of partitions)
        owners.set(`${topic}/${p}`, { memberId: m.memberId, clientId: m.clientId, host: m.host });
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

/**
 * One snapshot: one ListGroups per broker, one FindCoordinator for all groups (per request kind),
 * a describe per coordinator and protocol (DescribeGroups for classic groups, ConsumerGroupDescribe
 * for consumer-protocol ones), one OffsetFetch per coordinator (for up to 250 groups), two
 * ListOffsets per partition leader.
 */
export async function lagSnapshot(ctx: OpsContext, query: LagQuery = {}): Promise<LagSnapshot> {
  // Connecting the admin first turns an unreachable cluster into KAFKA_UNREACHABLE, naming it.
  await ctx.admin();
  const listed = await resolveGroups(ctx, query.groups);
  if (query.topic) await assertTopicExists(ctx, query.topic);
  const at = Date.now();
  const [described, committed] = await Promise.all([
    describeGroups(ctx, listed),
    ctx.groups().offsets(listed.map((g) => g.groupId)),
  ]);
  const perGroup = listed.map(({ groupId: group }) => {
    const d = described.get(group);
    const owners = ownersOf(d);
    const commits = commitsOf(committed.get(group));
    const keys = new Set([...owners.keys(), ...commits.keys()]);
    return {
      group,
      protocol: d?.protocol ?? 'classic',
      state: d?.state ?? 'Dead',
      members: d?.members.length ?? 0,
      owners,
      commits,
      keys,
    };
  });
  const topics = new Set<string>();
  for (const g of perGroup)
    for (const k of g.keys) {
      const { topic } = splitKey(k);
      if (!query.topic || topic === query.topic) topics.add(topic);
    }
  const marks = await watermarks(ctx, [...topics]);
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
    return { group: g.group, protocol: g.protocol, state: g.state, members: g.members, partitions };
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

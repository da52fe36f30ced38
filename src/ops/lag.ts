import { AssignerProtocol, type Admin } from 'kafkajs';
import type { LagThresholds } from '../config.js';
import { OrderbusError, closeMatches } from '../errors.js';
import { probeKey } from '../adapters/kafka-fetch.js';
import type { OpsContext } from './context.js';

/**
 * Consumer lag, the way `kafka-consumer-groups.sh --describe` computes it (log-end offset minus
 * committed offset, per partition), plus what it lacks: time lag (age of the oldest unconsumed
 * record), drain rate and ETA, and Burrow-style statuses from a sliding window of samples.
 * Read-only: never joins a group and never writes an offset.
 */
export type LagStatus = 'OK' | 'WARN' | 'REWIND' | 'STALL' | 'STOP' | 'ERR';
const SEVERITY: Record<LagStatus, number> = { OK: 0, WARN: 1, REWIND: 2, STALL: 3, STOP: 4, ERR: 5 };
export const worstStatus = (statuses: LagStatus[]): LagStatus =>
  statuses.reduce<LagStatus>((w, s) => (SEVERITY[s] > SEVERITY[w] ? s : w), 'OK');

export interface PartitionOwner {
  memberId: string;
  clientId: string;
  host: string;
}

/** One observation of one partition of one group. */
export interface PartitionSample {
  topic: string;
  partition: number;
  committed: number | null;
  logStart: number;
  logEnd: number;
  owner: PartitionOwner | null;
}

export interface GroupSample {
  group: string;
  state: string;
  members: number;
  partitions: PartitionSample[];
}

export interface LagSnapshot {
  at: number;
  groups: GroupSample[];
  /** Time lag per `topic/partition/committedOffset`, when asked for. */
  recordTimestamps: Map<string, number>;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  logStart: number;
  logEnd: number;
  /** logEnd − committed; null when the group has no committed offset there (as Kafka's tool prints '-'). */
  lag: number | null;
  /** Age (ms) of the oldest unconsumed record; 0 when caught up; null when unknown. */
  timeLagMs: number | null;
  /** Records/s committed over the window; null with a single sample. */
  consumeRate: number | null;
  etaSeconds: number | null;
  owner: PartitionOwner | null;
  status: LagStatus;
}

export interface GroupLag {
  group: string;
  state: string;
  members: number;
  totalLag: number;
  maxTimeLagMs: number | null;
  consumeRate: number | null;
  etaSeconds: number | null;
  status: LagStatus;
  /** Why the status is not OK, one short line each. */
  reasons: string[];
  partitions: PartitionLag[];
}

export interface LagReport {
  at: string;
  windowSeconds: number;
  samples: number;
  groups: GroupLag[];
}

export interface LagQuery {
  groups?: string[];
  topic?: string;
  /** Read record timestamps for time lag (one Fetch per broker per round). */
  timeLag?: boolean;
}

const CONCURRENCY = 16;
/**
 * A member that has not moved a partition for this long (with lag) is STALL. Shorter windows
 * cannot tell a stalled consumer from one working through a slow batch, so they say nothing.
 */
export const STALL_MIN_WINDOW_MS = 10_000;

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
    if (!all.includes(g)) throw unknownGroup(g, all);
  }
  return [...new Set(wanted)];
}

export function unknownGroup(group: string, all: string[]): OrderbusError {
  const near = closeMatches(group, all);
  return new OrderbusError(
    'UNKNOWN_GROUP',
    `consumer group '${group}' does not exist${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}`,
    { hint: 'orderbus lag (lists every group)', subject: group, details: { closeMatches: near } },
  );
}

export async function assertTopicExists(admin: Admin, topic: string): Promise<void> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) {
    const near = closeMatches(topic, topics);
    throw new OrderbusError(
      'UNKNOWN_TOPIC',
      `topic '${topic}' does not exist${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}`,
      { hint: 'orderbus stack status (topics are created by orderbus stack up)', subject: topic },
    );
  }
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
    const owners = new Map<string, PartitionOwner>();
    for (const m of d?.members ?? []) {
      const a =
        m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
      for (const [topic, parts] of Object.entries(a?.assignment ?? {})) {
        for (const p of parts)
          owners.set(`${topic}/${p}`, { memberId: m.memberId, clientId: m.clientId, host: m.clientHost });
      }
    }
    const commits = new Map<string, number>();
    for (const t of committed[i] ?? []) {
      for (const p of t.partitions) {
        if (Number(p.offset) >= 0) commits.set(`${t.topic}/${p.partition}`, Number(p.offset));
      }
    }
    const keys = new Set([...owners.keys(), ...commits.keys()]);
    return { group, state: d?.state ?? 'Dead', members: d?.members.length ?? 0, owners, commits, keys };
  });
  const topics = new Set<string>();
  for (const g of perGroup)
    for (const k of g.keys) {
      const topic = k.slice(0, k.lastIndexOf('/'));
      if (!query.topic || topic === query.topic) topics.add(topic);
    }
  const marks = await watermarks(admin, [...topics]);
  const groups: GroupSample[] = perGroup.map((g) => {
    const partitions: PartitionSample[] = [];
    for (const k of g.keys) {
      const slash = k.lastIndexOf('/');
      const topic = k.slice(0, slash);
      const partition = Number(k.slice(slash + 1));
      const w = marks.get(topic)?.get(partition);
      if (!w) continue;
      partitions.push({
        topic,
        partition,
        committed: g.commits.get(k) ?? null,
        logStart: w.low,
        logEnd: w.high,
        owner: g.owners.get(k) ?? null,
      });
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { group: g.group, state: g.state, members: g.members, partitions };
  });
  let recordTimestamps = new Map<string, number>();
  if (query.timeLag) {
    const probes = groups.flatMap((g) =>
      g.partitions
        .filter((p) => p.committed !== null && p.logEnd > p.committed)
        .map((p) => ({
          topic: p.topic,
          partition: p.partition,
          offset: Math.max(p.committed ?? 0, p.logStart),
        })),
    );
    recordTimestamps = await ctx.reader().timestamps(probes);
  }
  return { at, groups, recordTimestamps };
}

/**
 * A sliding window of snapshots, evaluated into Burrow's statuses:
 * - REWIND: a committed offset went backwards within the window.
 * - STOP: lag > 0, the committed offset did not move across the window, and no member owns the
 *   partition (nobody is consuming it).
 * - STALL: the same, but a member owns it (a consumer is there and not progressing) and the
 *   window spans at least STALL_MIN_WINDOW_MS.
 * - WARN: lag grew in every interval of the window (consumers falling behind), or a threshold.
 * - ERR (group): the group is gone, or an error threshold is crossed.
 */
export class LagMonitor {
  private readonly window: LagSnapshot[] = [];

  constructor(
    private readonly windowSamples: number,
    private readonly thresholds: Record<string, LagThresholds> = {},
  ) {}

  add(s: LagSnapshot): void {
    this.window.push(s);
    while (this.window.length > Math.max(1, this.windowSamples)) this.window.shift();
  }

  get samples(): number {
    return this.window.length;
  }

  evaluate(): LagReport {
    const last = this.window[this.window.length - 1];
    if (!last) return { at: new Date().toISOString(), windowSeconds: 0, samples: 0, groups: [] };
    const first = this.window[0] ?? last;
    const groups = last.groups.map((g) => this.evaluateGroup(g, last));
    return {
      at: new Date(last.at).toISOString(),
      windowSeconds: (last.at - first.at) / 1000,
      samples: this.window.length,
      groups,
    };
  }

  private history(group: string, topic: string, partition: number): { at: number; p: PartitionSample }[] {
    const out: { at: number; p: PartitionSample }[] = [];
    for (const s of this.window) {
      const p = s.groups
        .find((g) => g.group === group)
        ?.partitions.find((x) => x.topic === topic && x.partition === partition);
      if (p) out.push({ at: s.at, p });
    }
    return out;
  }

  private evaluateGroup(g: GroupSample, last: LagSnapshot): GroupLag {
    const reasons: string[] = [];
    const partitions: PartitionLag[] = g.partitions.map((p) => {
      const lag = p.committed === null ? null : Math.max(0, p.logEnd - p.committed);
      const hist = this.history(g.group, p.topic, p.partition);
      let status: LagStatus = 'OK';
      let consumeRate: number | null = null;
      const h0 = hist[0];
      const hn = hist[hist.length - 1];
      if (h0 && hn && hist.length >= 2 && hn.at > h0.at) {
        const c0 = h0.p.committed;
        const cn = hn.p.committed;
        if (c0 !== null && cn !== null) consumeRate = Math.max(0, (cn - c0) / ((hn.at - h0.at) / 1000));
        const rewound = hist.some((h, i) => {
          const prev = hist[i - 1]?.p.committed;
          return (
            i > 0 && prev !== null && prev !== undefined && h.p.committed !== null && h.p.committed < prev
          );
        });
        const lags = hist.map((h) => (h.p.committed === null ? null : h.p.logEnd - h.p.committed));
        if (rewound) {
          status = 'REWIND';
          reasons.push(`${p.topic}/${p.partition}: committed offset went backwards`);
        } else if (
          lag !== null &&
          lag > 0 &&
          c0 !== null &&
          c0 === cn &&
          (!p.owner || hn.at - h0.at >= STALL_MIN_WINDOW_MS)
        ) {
          status = p.owner ? 'STALL' : 'STOP';
          reasons.push(
            p.owner
              ? `${p.topic}/${p.partition}: owned by ${p.owner.clientId} but no progress over ${((hn.at - h0.at) / 1000).toFixed(0)}s with lag ${lag}`
              : `${p.topic}/${p.partition}: no consumer and no progress with lag ${lag}`,
          );
        } else if (
          lags.every((l) => l !== null) &&
          lags.every((l, i) => i === 0 || l >= (lags[i - 1] as number)) &&
          (lags[lags.length - 1] as number) > (lags[0] as number)
        ) {
          status = 'WARN';
          reasons.push(`${p.topic}/${p.partition}: lag rising (${String(lags[0])} → ${String(lag)})`);
        }
      }
      let timeLagMs: number | null = null;
      if (lag === 0) timeLagMs = 0;
      else if (lag !== null && p.committed !== null) {
        const ts = last.recordTimestamps.get(
          probeKey({ topic: p.topic, partition: p.partition, offset: Math.max(p.committed, p.logStart) }),
        );
        if (ts !== undefined) timeLagMs = Math.max(0, last.at - ts);
      }
      const etaSeconds =
        lag === 0 ? 0 : lag !== null && consumeRate !== null && consumeRate > 0 ? lag / consumeRate : null;
      return {
        topic: p.topic,
        partition: p.partition,
        committed: p.committed,
        logStart: p.logStart,
        logEnd: p.logEnd,
        lag,
        timeLagMs,
        consumeRate,
        etaSeconds,
        owner: p.owner,
        status,
      };
    });
    const totalLag = partitions.reduce((s, p) => s + (p.lag ?? 0), 0);
    const times = partitions.map((p) => p.timeLagMs).filter((t): t is number => t !== null);
    const maxTimeLagMs = times.length ? Math.max(...times) : null;
    const rates = partitions.map((p) => p.consumeRate).filter((r): r is number => r !== null);
    const consumeRate = rates.length ? rates.reduce((a, b) => a + b, 0) : null;
    const etaSeconds =
      totalLag === 0 ? 0 : consumeRate !== null && consumeRate > 0 ? totalLag / consumeRate : null;
    const statuses = partitions.map((p) => p.status);
    const t = this.thresholds[g.group] ?? this.thresholds['*'];
    if (g.state === 'Dead') {
      statuses.push('ERR');
      reasons.push('group is dead (no members, no offsets)');
    }
    if (t) {
      if (t.errLag !== undefined && totalLag > t.errLag) {
        statuses.push('ERR');
        reasons.push(`lag ${totalLag} > errLag ${t.errLag}`);
      } else if (t.warnLag !== undefined && totalLag > t.warnLag) {
        statuses.push('WARN');
        reasons.push(`lag ${totalLag} > warnLag ${t.warnLag}`);
      }
      if (maxTimeLagMs !== null && t.errTimeLagMs !== undefined && maxTimeLagMs > t.errTimeLagMs) {
        statuses.push('ERR');
        reasons.push(`time lag ${maxTimeLagMs} ms > errTimeLagMs ${t.errTimeLagMs}`);
      } else if (maxTimeLagMs !== null && t.warnTimeLagMs !== undefined && maxTimeLagMs > t.warnTimeLagMs) {
        statuses.push('WARN');
        reasons.push(`time lag ${maxTimeLagMs} ms > warnTimeLagMs ${t.warnTimeLagMs}`);
      }
    }
    return {
      group: g.group,
      state: g.state,
      members: g.members,
      totalLag,
      maxTimeLagMs,
      consumeRate,
      etaSeconds,
      status: worstStatus(statuses),
      reasons,
      partitions,
    };
  }
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

export function sortWorstFirst(r: LagReport): LagReport {
  return {
    ...r,
    groups: [...r.groups].sort(
      (a, b) =>
        SEVERITY[b.status] - SEVERITY[a.status] || b.totalLag - a.totalLag || a.group.localeCompare(b.group),
    ),
  };
}

import type { LagThresholds } from '../config.js';
import type { LagStatus, PartitionSample } from './lag-types.js';

/**
 * Burrow's status rules (core/internal/evaluator/caching.go), one small pure function each, over
 * the window of one partition's samples; then the group's own rules (dead, thresholds). Reading
 * this file is reading the spec in the README:
 * - REWIND: a committed offset went backwards within the window.
 * - STOP: lag > 0, the committed offset did not move across the window, and no member owns the
 *   partition (nobody is consuming it).
 * - STALL: the same, but a member owns it (a consumer is there and not progressing) and the
 *   window spans at least STALL_MIN_WINDOW_MS.
 * - WARN: lag grew in every interval of the window to more than MIN_WARN_LAG (consumers falling
 *   behind), or a threshold.
 * - ERR (group): the group is gone, or an error threshold is crossed.
 */

/** Best to worst: the worst status of a group wins, and the index is the metrics' status code. */
export const LAG_STATUSES = ['OK', 'WARN', 'REWIND', 'STALL', 'STOP', 'ERR'] as const satisfies LagStatus[];
export const severity = (s: LagStatus): number => LAG_STATUSES.indexOf(s);
export const worstStatus = (statuses: LagStatus[]): LagStatus =>
  statuses.reduce<LagStatus>((w, s) => (severity(s) > severity(w) ? s : w), 'OK');

/**
 * A member that has not moved a partition for this long (with lag) is STALL. Shorter windows
 * cannot tell a stalled consumer from one working through a slow batch, so they say nothing.
 */
export const STALL_MIN_WINDOW_MS = 10_000;

/** One partition across the window, oldest first; the last entry is the current sample. */
export type PartitionWindow = readonly { at: number; p: PartitionSample }[];

/** A rule that holds: the status it gives and why, one short line. */
export interface Finding {
  status: LagStatus;
  reason: string;
}

/** logEnd − committed, never negative; null where the group has committed nothing. */
export const partitionLag = (p: PartitionSample): number | null =>
  p.committed === null ? null : Math.max(0, p.logEnd - p.committed);

/** The rules need two samples some time apart: a single snapshot shows no movement. */
export function spansTime(w: PartitionWindow): boolean {
  const first = w[0];
  const last = w[w.length - 1];
  return first !== undefined && last !== undefined && w.length >= 2 && last.at > first.at;
}

const windowMs = (w: PartitionWindow): number => (w[w.length - 1]?.at ?? 0) - (w[0]?.at ?? 0);
const current = (w: PartitionWindow): PartitionSample | undefined => w[w.length - 1]?.p;
const where = (p: PartitionSample): string => `${p.topic}/${p.partition}`;

/** A committed offset is lower than the one in the sample before it. */
export function isRewind(w: PartitionWindow): boolean {
  return w.some((h, i) => {
    const prev = w[i - 1]?.p.committed;
    return i > 0 && prev !== null && prev !== undefined && h.p.committed !== null && h.p.committed < prev;
  });
}

/** Lag now, and the committed offset is where it was at the start of the window. */
function isStuck(w: PartitionWindow): boolean {
  const now = current(w);
  const lag = now ? partitionLag(now) : null;
  const c0 = w[0]?.p.committed ?? null;
  return lag !== null && lag > 0 && c0 !== null && c0 === now?.committed;
}

/** Stuck, and no member owns the partition: nobody is consuming it. */
export const isStopped = (w: PartitionWindow): boolean => isStuck(w) && !current(w)?.owner;

/** Stuck although a member owns the partition, for a window long enough to tell. */
export const isStalled = (w: PartitionWindow): boolean =>
  isStuck(w) && !!current(w)?.owner && windowMs(w) >= STALL_MIN_WINDOW_MS;

/** Raw lag of every sample (null where nothing was committed). */
const lags = (w: PartitionWindow): (number | null)[] =>
  w.map((h) => (h.p.committed === null ? null : h.p.logEnd - h.p.committed));

/**
 * Lag within this is never WARN by itself (Burrow's allowed lag): a busy consumer is always a
 * record or two behind, and lag 0 → 1 → 2 over a window is noise, not consumers falling behind.
 */
export const MIN_WARN_LAG = 10;

/**
 * Lag grew or held in every interval, ends higher than it began and above `minWarnLag`:
 * consumers fall behind.
 */
export function isLagRising(w: PartitionWindow, minWarnLag = MIN_WARN_LAG): boolean {
  const l = lags(w);
  const first = l[0];
  const last = l[l.length - 1];
  if (first === null || first === undefined || last === null || last === undefined) return false;
  return (
    l.every((x, i) => x !== null && (i === 0 || x >= (l[i - 1] as number))) &&
    last > first &&
    last > minWarnLag
  );
}

/** Settings of the partition rules. */
export interface PartitionRuleOptions {
  /** Rising lag up to this is OK (MIN_WARN_LAG by default). */
  minWarnLag?: number;
}

type PartitionRule = (w: PartitionWindow, p: PartitionSample, o: PartitionRuleOptions) => Finding | null;

const rewind: PartitionRule = (w, p) =>
  isRewind(w) ? { status: 'REWIND', reason: `${where(p)}: committed offset went backwards` } : null;

const stopped: PartitionRule = (w, p) =>
  isStopped(w)
    ? {
        status: 'STOP',
        reason: `${where(p)}: no consumer and no progress with lag ${String(partitionLag(p))}`,
      }
    : null;

const stalled: PartitionRule = (w, p) =>
  isStalled(w)
    ? {
        status: 'STALL',
        reason: `${where(p)}: owned by ${p.owner?.clientId ?? '-'} but no progress over ${(windowMs(w) / 1000).toFixed(0)}s with lag ${String(partitionLag(p))}`,
      }
    : null;

const lagRising: PartitionRule = (w, p, o) =>
  isLagRising(w, o.minWarnLag)
    ? {
        status: 'WARN',
        reason: `${where(p)}: lag rising (${String(lags(w)[0])} → ${String(partitionLag(p))})`,
      }
    : null;

/** In Burrow's order: the first rule that holds decides. */
const PARTITION_RULES: PartitionRule[] = [rewind, stopped, stalled, lagRising];

/** The partition's finding over the window; null is OK (or too few samples to judge). */
export function evaluatePartition(w: PartitionWindow, options: PartitionRuleOptions = {}): Finding | null {
  const p = current(w);
  if (!p || !spansTime(w)) return null;
  for (const rule of PARTITION_RULES) {
    const f = rule(w, p, options);
    if (f) return f;
  }
  return null;
}

/** What the group rules look at. */
export interface GroupFacts {
  state: string;
  members: number;
  totalLag: number;
  maxTimeLagMs: number | null;
}

/**
 * Dead: the coordinator has neither members nor offsets for the group. A group with members is
 * alive whatever a describe of the other protocol called it (DescribeGroups says Dead for a
 * KIP-848 group).
 */
export const groupDead = (g: GroupFacts): Finding | null =>
  g.state === 'Dead' && g.members === 0
    ? { status: 'ERR', reason: 'group is dead (no members, no offsets)' }
    : null;

/** Only the worse of errLag and warnLag is reported. */
export function lagThreshold(g: GroupFacts, t: LagThresholds | undefined): Finding | null {
  if (t?.errLag !== undefined && g.totalLag > t.errLag)
    return { status: 'ERR', reason: `lag ${g.totalLag} > errLag ${t.errLag}` };
  if (t?.warnLag !== undefined && g.totalLag > t.warnLag)
    return { status: 'WARN', reason: `lag ${g.totalLag} > warnLag ${t.warnLag}` };
  return null;
}

/** Only the worse of errTimeLagMs and warnTimeLagMs; nothing when the time lag is unknown. */
export function timeLagThreshold(g: GroupFacts, t: LagThresholds | undefined): Finding | null {
  const ms = g.maxTimeLagMs;
  if (ms === null) return null;
  if (t?.errTimeLagMs !== undefined && ms > t.errTimeLagMs)
    return { status: 'ERR', reason: `time lag ${ms} ms > errTimeLagMs ${t.errTimeLagMs}` };
  if (t?.warnTimeLagMs !== undefined && ms > t.warnTimeLagMs)
    return { status: 'WARN', reason: `time lag ${ms} ms > warnTimeLagMs ${t.warnTimeLagMs}` };
  return null;
}

/** A group's own thresholds, else the '*' entry. */
export const thresholdsFor = (
  group: string,
  thresholds: Record<string, LagThresholds>,
): LagThresholds | undefined => thresholds[group] ?? thresholds['*'];

/** The group's status: the worst of its partitions' findings and its own; reasons in that order. */
export function evaluateGroup(
  partitions: (Finding | null)[],
  g: GroupFacts,
  t: LagThresholds | undefined,
): { status: LagStatus; reasons: string[] } {
  const findings = [...partitions, groupDead(g), lagThreshold(g, t), timeLagThreshold(g, t)].filter(
    (f): f is Finding => f !== null,
  );
  return { status: worstStatus(findings.map((f) => f.status)), reasons: findings.map((f) => f.reason) };
}

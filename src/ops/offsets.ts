import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, OrderbusError, usageError } from '../errors.js';
import { dataDir } from '../paths.js';
import { withAudit } from './audit.js';
import type { OpsContext } from './context.js';
import { assertTopicExists, describeGroups, resolveGroups } from './lag.js';
import {
  readOffsetsFile,
  rollbackFile,
  type PlannedOffset,
  type RollbackFile,
  type TopicSelection,
} from './offset-plans.js';

export type { RollbackFile, TopicSelection } from './offset-plans.js';
export { formatKafkaCsv, parseTopicSelection } from './offset-plans.js';

/**
 * `orderbus offsets reset`: Kafka's strategies, planned first (per partition: current, target,
 * records re-read or skipped and their time range), refused on an active group (exit 3), with a
 * rollback file written before anything changes.
 */
export type ResetStrategy =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number }
  | { kind: 'datetime'; at: Date }
  | { kind: 'duration'; ms: number; spec: string }
  | { kind: 'shift'; by: number }
  | { kind: 'file'; file: string }
  | { kind: 'map'; offsets: Map<number, number>; label: string };

export function describeStrategy(s: ResetStrategy): string {
  switch (s.kind) {
    case 'earliest':
    case 'latest':
      return `to-${s.kind}`;
    case 'offset':
      return `to-offset ${s.offset}`;
    case 'datetime':
      return `to-datetime ${s.at.toISOString()}`;
    case 'duration':
      return `by-duration ${s.spec}`;
    case 'shift':
      return `shift-by ${s.by}`;
    case 'file':
      return `from-file ${s.file}`;
    case 'map':
      return s.label;
  }
}

export function parseOffset(s: string, flag: string, allowNegative = false): number {
  if (!(allowNegative ? /^-?\d+$/ : /^\d+$/).test(s))
    throw usageError(
      'BAD_OFFSET',
      `${flag} takes ${allowNegative ? 'an integer' : 'a non-negative integer'}, got '${s}'`,
    );
  return Number(s);
}

export function parsePartitions(s: string | undefined, flag = '--partitions'): number[] | undefined {
  if (s === undefined) return undefined;
  const parts = s.split(',').map((x) => x.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw usageError('BAD_PARTITIONS', `${flag} takes a comma-separated list like 0,3; got '${s}'`);
  return parts.map(Number);
}

export interface ResetRow {
  topic: string;
  partition: number;
  current: number | null;
  target: number;
  logStart: number;
  logEnd: number;
  /** target − current: negative re-reads that many records, positive skips them. */
  delta: number | null;
  /** Records re-read (target < current) or skipped (target > current). */
  reRead: number;
  skipped: number;
  /** Time range of the re-read or skipped records (record timestamps). */
  fromTime: string | null;
  untilTime: string | null;
}

export interface ResetPlan {
  group: string;
  /** The topic, or the topics joined by commas when the reset covers several. */
  topic: string;
  topics: string[];
  strategy: string;
  state: string;
  members: number;
  rows: ResetRow[];
  /** Partitions whose requested target lies outside [logStart, logEnd]. */
  outOfRange: { topic: string; partition: number; requested: number; logStart: number; logEnd: number }[];
}

export interface ResetResult extends ResetPlan {
  executed: boolean;
  rollbackFile: string | null;
  rollbackCommand: string | null;
  auditRef: string | null;
}

/**
 * What a reset covers: one topic, several (`--topic T:0,3` each), every topic the group has
 * committed offsets on (`--all-topics`), or with `--from-file` and no topic the file's topics.
 */
export type ResetScope = string | TopicSelection[] | { allTopics: true };

/** The topics the group has committed offsets on (Kafka's `--all-topics`). */
async function groupTopics(ctx: OpsContext, group: string): Promise<TopicSelection[]> {
  const committed = await (await ctx.admin()).fetchOffsets({ groupId: group });
  const topics = committed
    .filter((t) => t.partitions.some((p) => Number(p.offset) >= 0))
    .map((t) => ({ topic: t.topic }));
  if (topics.length === 0)
    throw usageError(
      'NO_GROUP_TOPICS',
      `group ${group} has no committed offsets, so --all-topics covers nothing`,
      `orderbus offsets reset --group ${group} --topic TOPIC --to-earliest`,
    );
  return topics.sort((a, b) => a.topic.localeCompare(b.topic));
}

async function scopeTopics(
  ctx: OpsContext,
  group: string,
  scope: ResetScope,
  fromFile: PlannedOffset[] | undefined,
): Promise<TopicSelection[]> {
  if (typeof scope === 'object' && 'allTopics' in scope) return groupTopics(ctx, group);
  const given = typeof scope === 'string' ? [{ topic: scope }] : scope;
  if (!fromFile) return given;
  const inFile = [...new Set(fromFile.map((o) => o.topic))];
  if (given.length === 0) return inFile.map((topic) => ({ topic }));
  const missing = given.filter((g) => !inFile.includes(g.topic));
  if (missing.length > 0)
    throw usageError(
      'ROLLBACK_MISMATCH',
      `the offsets file has no offsets for ${missing.map((m) => m.topic).join(', ')} (it has ${inFile.join(', ')})`,
      `orderbus offsets reset --group ${group} --topic ${inFile[0] ?? 'TOPIC'} --from-file FILE`,
    );
  return given;
}

export async function planReset(
  ctx: OpsContext,
  group: string,
  scope: ResetScope,
  strategy: ResetStrategy,
  partitions?: number[],
): Promise<ResetPlan> {
  const admin = await ctx.admin();
  const fromFile = strategy.kind === 'file' ? readOffsetsFile(strategy.file, group) : undefined;
  const selections = await scopeTopics(ctx, group, scope, fromFile);
  for (const s of selections) await assertTopicExists(ctx, s.topic);
  const topics = selections.map((s) => s.topic);
  // A reset may create offsets for a group that has none yet (as Kafka's tool does), so an
  // unknown group is only an error when it has never existed and the strategy is relative.
  const listed = (await resolveGroups(ctx, undefined)).find((g) => g.groupId === group);
  if (!listed && strategy.kind === 'shift') await resolveGroups(ctx, [group]);
  // Described by its own protocol: a KIP-848 group's members are invisible to DescribeGroups.
  const [committed, described] = await Promise.all([
    admin.fetchOffsets({ groupId: group, topics }),
    describeGroups(ctx, [listed ?? group]),
  ]);
  const d = described.get(group);
  const rows: ResetRow[] = [];
  const outOfRange: ResetPlan['outOfRange'] = [];
  for (const sel of selections) {
    const current = new Map(
      (committed.find((c) => c.topic === sel.topic)?.partitions ?? []).map(
        (p) => [p.partition, Number(p.offset)] as const,
      ),
    );
    const file =
      fromFile && new Map(fromFile.filter((o) => o.topic === sel.topic).map((o) => [o.partition, o.offset]));
    const planned = await planTopic(
      ctx,
      group,
      sel.topic,
      strategy,
      sel.partitions ?? partitions,
      current,
      file,
    );
    rows.push(...planned.rows);
    outOfRange.push(...planned.outOfRange);
  }
  // Time range of what is re-read or skipped: timestamps of its first and last records.
  const span = (r: ResetRow) => [
    Math.min(r.current as number, r.target),
    Math.max(r.current as number, r.target) - 1,
  ];
  const moved = rows.filter((r) => r.delta !== null && r.delta !== 0);
  const ts = await ctx
    .reader()
    .timestamps(
      moved.flatMap((r) => span(r).map((offset) => ({ topic: r.topic, partition: r.partition, offset }))),
    );
  for (const r of moved) {
    const [ta, tb] = span(r).map((o) => ts.get(`${r.topic}/${r.partition}/${o}`));
    r.fromTime = ta !== undefined ? new Date(ta).toISOString() : null;
    r.untilTime = tb !== undefined ? new Date(tb).toISOString() : null;
  }
  return {
    group,
    topic: topics.join(','),
    topics,
    strategy: describeStrategy(strategy),
    state: d?.state ?? 'Dead',
    members: d?.members.length ?? 0,
    rows,
    outOfRange,
  };
}

/** One topic's rows: each chosen partition's current offset and the strategy's target. */
async function planTopic(
  ctx: OpsContext,
  group: string,
  topic: string,
  strategy: ResetStrategy,
  partitions: number[] | undefined,
  current: Map<number, number>,
  fromFile: Map<number, number> | undefined,
): Promise<Pick<ResetPlan, 'rows' | 'outOfRange'>> {
  const admin = await ctx.admin();
  const marks = await admin.fetchTopicOffsets(topic);
  const all = marks.map((m) => m.partition).sort((a, b) => a - b);
  const chosen = partitions ?? all;
  for (const p of chosen)
    if (!all.includes(p))
      throw usageError(
        'UNKNOWN_PARTITION',
        `${topic} has partitions 0..${all.length - 1}; there is no partition ${p}`,
        `orderbus lag --group ${group} --topic ${topic}`,
      );
  let byTime: Map<number, number> | undefined;
  if (strategy.kind === 'datetime' || strategy.kind === 'duration') {
    const ts = strategy.kind === 'datetime' ? strategy.at.getTime() : Date.now() - strategy.ms;
    const r = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
    byTime = new Map(r.map((x) => [x.partition, Number(x.offset)]));
  }
  const rows: ResetRow[] = [];
  const outOfRange: ResetPlan['outOfRange'] = [];
  for (const p of chosen) {
    const m = marks.find((x) => x.partition === p);
    if (!m) continue;
    const low = Number(m.low);
    const high = Number(m.high);
    const cur = current.has(p) && (current.get(p) as number) >= 0 ? (current.get(p) as number) : null;
    let target: number;
    switch (strategy.kind) {
      case 'earliest':
        target = low;
        break;
      case 'latest':
        target = high;
        break;
      case 'offset':
        target = strategy.offset;
        break;
      case 'shift':
        target = (cur ?? low) + strategy.by;
        break;
      case 'file':
        if (!fromFile?.has(p)) continue;
        target = fromFile.get(p) as number;
        break;
      case 'map':
        if (!strategy.offsets.has(p)) continue;
        target = strategy.offsets.get(p) as number;
        break;
      default:
        target = byTime?.get(p) ?? high;
        if (target < 0) target = high;
    }
    if (target < low || target > high) {
      outOfRange.push({ topic, partition: p, requested: target, logStart: low, logEnd: high });
      continue;
    }
    const delta = cur === null ? null : target - cur;
    rows.push({
      topic,
      partition: p,
      current: cur,
      target,
      logStart: low,
      logEnd: high,
      delta,
      reRead: delta !== null && delta < 0 ? -delta : 0,
      skipped: delta !== null && delta > 0 ? delta : 0,
      fromTime: null,
      untilTime: null,
    });
  }
  return { rows, outOfRange };
}

async function waitEmpty(ctx: OpsContext, group: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = (await describeGroups(ctx, [group])).get(group);
    if (!d || d.members.length === 0) return;
    if (Date.now() > deadline)
      throw new OrderbusError(
        'GROUP_STILL_ACTIVE',
        `group ${group} still has ${d.members.length} member(s) after ${timeoutMs / 1000}s`,
        {
          exitCode: ExitCode.unsafe,
          hint: `stop its consumers, then orderbus offsets reset --group ${group} … --execute`,
        },
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface ExecuteResetOptions {
  execute?: boolean;
  waitEmpty?: boolean;
  waitTimeoutMs?: number;
  command?: string;
}

/** Plans, then (with execute) refuses on active groups, writes the rollback file and resets. */
export async function resetOffsets(
  ctx: OpsContext,
  group: string,
  scope: ResetScope,
  strategy: ResetStrategy,
  partitions: number[] | undefined,
  options: ExecuteResetOptions = {},
): Promise<ResetResult> {
  let plan = await planReset(ctx, group, scope, strategy, partitions);
  const { topic } = plan;
  const several = plan.topics.length > 1;
  const base: ResetResult = {
    ...plan,
    executed: false,
    rollbackFile: null,
    rollbackCommand: null,
    auditRef: null,
  };
  if (plan.outOfRange.length > 0) {
    const o = plan.outOfRange
      .map(
        (x) =>
          `${several ? `${x.topic} ` : ''}partition ${x.partition}: ${x.requested} not in [${x.logStart}, ${x.logEnd}]`,
      )
      .join('; ');
    throw new OrderbusError('OFFSET_OUT_OF_RANGE', `target offsets out of range: ${o}`, {
      exitCode: ExitCode.usage,
      hint: `orderbus offsets reset --group ${group} --topic ${topic} --to-earliest (or --to-latest) for the bounds`,
      details: { outOfRange: plan.outOfRange },
    });
  }
  if (!options.execute) return base;
  if (plan.members > 0) {
    if (!options.waitEmpty)
      throw new OrderbusError(
        'GROUP_ACTIVE',
        `group ${group} is ${plan.state} with ${plan.members} active member(s); resetting under live consumers would be overwritten or race them`,
        {
          exitCode: ExitCode.unsafe,
          subject: group,
          hint: `stop the group's consumers, or add --wait-empty to wait for them to leave`,
        },
      );
    await waitEmpty(ctx, group, options.waitTimeoutMs ?? 120000);
    plan = await planReset(ctx, group, scope, strategy, partitions);
  }
  const dir = join(dataDir(ctx.config), 'rollback');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${group}.${several ? `${plan.topics.length}-topics` : topic}.${stamp}.json`);
  const rollback: RollbackFile = rollbackFile(
    group,
    plan.rows.flatMap((r) => (r.current === null ? [] : [{ ...r, offset: r.current }])),
  );
  writeFileSync(file, `${JSON.stringify(rollback, null, 2)}\n`);
  // The file names its topics: with several, the rollback needs no --topic.
  const rollbackCommand = `orderbus offsets reset --group ${group}${several ? '' : ` --topic ${topic}`} --from-file ${file} --execute`;
  const rows = plan.rows.map((r) => ({
    ...(several ? { topic: r.topic } : {}),
    partition: r.partition,
    current: r.current,
    target: r.target,
  }));
  const auditRef = await withAudit(
    ctx,
    {
      command: options.command ?? `offsets reset --group ${group} --topic ${topic} --${plan.strategy}`,
      plan: { rows, rollbackFile: file },
    },
    async ({ id }) => {
      const admin = await ctx.admin();
      for (const t of plan.topics) {
        const partitions = plan.rows
          .filter((r) => r.topic === t)
          .map((r) => ({ partition: r.partition, offset: String(r.target) }));
        if (partitions.length > 0) await admin.setOffsets({ groupId: group, topic: t, partitions });
      }
      return { value: id, result: { executed: true, rollbackFile: file } };
    },
  );
  return { ...plan, executed: true, rollbackFile: file, rollbackCommand, auditRef };
}

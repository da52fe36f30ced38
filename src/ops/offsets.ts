import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, OrderbusError, usageError } from '../errors.js';
import { dataDir } from '../paths.js';
import { withAudit } from './audit.js';
import type { OpsContext } from './context.js';
import { assertTopicExists, describeGroups, resolveGroups } from './lag.js';

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
  topic: string;
  strategy: string;
  state: string;
  members: number;
  rows: ResetRow[];
  /** Partitions whose requested target lies outside [logStart, logEnd]. */
  outOfRange: { partition: number; requested: number; logStart: number; logEnd: number }[];
}

export interface ResetResult extends ResetPlan {
  executed: boolean;
  rollbackFile: string | null;
  rollbackCommand: string | null;
  auditRef: string | null;
}

export async function planReset(
  ctx: OpsContext,
  group: string,
  topic: string,
  strategy: ResetStrategy,
  partitions?: number[],
): Promise<ResetPlan> {
  const admin = await ctx.admin();
  await assertTopicExists(admin, topic);
  // A reset may create offsets for a group that has none yet (as Kafka's tool does), so an
  // unknown group is only an error when it has never existed and the strategy is relative.
  const listed = (await resolveGroups(ctx, undefined)).find((g) => g.groupId === group);
  if (!listed && strategy.kind === 'shift') await resolveGroups(ctx, [group]);
  // Described by its own protocol: a KIP-848 group's members are invisible to DescribeGroups.
  const [marks, committed, described] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
    describeGroups(ctx, [listed ?? group]),
  ]);
  const d = described.get(group);
  const current = new Map(
    (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)] as const),
  );
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
  let fromFile: Map<number, number> | undefined;
  if (strategy.kind === 'file') {
    const f = readRollback(strategy.file);
    if (f.group !== group || f.topic !== topic)
      throw usageError(
        'ROLLBACK_MISMATCH',
        `${strategy.file} is for group ${f.group} on ${f.topic}, not ${group} on ${topic}`,
        `orderbus offsets reset --group ${f.group} --topic ${f.topic} --from-file ${strategy.file}`,
      );
    fromFile = new Map(f.offsets.map((o) => [o.partition, o.offset]));
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
      outOfRange.push({ partition: p, requested: target, logStart: low, logEnd: high });
      continue;
    }
    const delta = cur === null ? null : target - cur;
    rows.push({
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
  // Time range of what is re-read or skipped: timestamps of its first and last records.
  const probes = rows
    .filter((r) => r.delta !== null && r.delta !== 0)
    .flatMap((r) => {
      const a = Math.min(r.current as number, r.target);
      const b = Math.max(r.current as number, r.target) - 1;
      return [
        { topic, partition: r.partition, offset: a },
        { topic, partition: r.partition, offset: b },
      ];
    });
  const ts = await ctx.reader().timestamps(probes);
  for (const r of rows) {
    if (r.delta === null || r.delta === 0) continue;
    const a = Math.min(r.current as number, r.target);
    const b = Math.max(r.current as number, r.target) - 1;
    const ta = ts.get(`${topic}/${r.partition}/${a}`);
    const tb = ts.get(`${topic}/${r.partition}/${b}`);
    r.fromTime = ta !== undefined ? new Date(ta).toISOString() : null;
    r.untilTime = tb !== undefined ? new Date(tb).toISOString() : null;
  }
  return {
    group,
    topic,
    strategy: describeStrategy(strategy),
    state: d?.state ?? 'Dead',
    members: d?.members.length ?? 0,
    rows,
    outOfRange,
  };
}

export interface RollbackFile {
  group: string;
  topic: string;
  writtenAt: string;
  offsets: { partition: number; offset: number }[];
}

function readRollback(file: string): RollbackFile {
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as RollbackFile;
    if (typeof f.group !== 'string' || !Array.isArray(f.offsets)) throw new Error('not a rollback file');
    return f;
  } catch (e) {
    throw usageError(
      'BAD_ROLLBACK_FILE',
      `cannot read rollback file ${file}: ${(e as Error).message}`,
      `ls ${join('.orderbus', 'rollback')}`,
    );
  }
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
  topic: string,
  strategy: ResetStrategy,
  partitions: number[] | undefined,
  options: ExecuteResetOptions = {},
): Promise<ResetResult> {
  let plan = await planReset(ctx, group, topic, strategy, partitions);
  const base: ResetResult = {
    ...plan,
    executed: false,
    rollbackFile: null,
    rollbackCommand: null,
    auditRef: null,
  };
  if (plan.outOfRange.length > 0) {
    const o = plan.outOfRange
      .map((x) => `partition ${x.partition}: ${x.requested} not in [${x.logStart}, ${x.logEnd}]`)
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
    plan = await planReset(ctx, group, topic, strategy, partitions);
  }
  const dir = join(dataDir(ctx.config), 'rollback');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${group}.${topic}.${stamp}.json`);
  const rollback: RollbackFile = {
    group,
    topic,
    writtenAt: new Date().toISOString(),
    offsets: plan.rows
      .filter((r) => r.current !== null)
      .map((r) => ({ partition: r.partition, offset: r.current as number })),
  };
  writeFileSync(file, `${JSON.stringify(rollback, null, 2)}\n`);
  const rollbackCommand = `orderbus offsets reset --group ${group} --topic ${topic} --from-file ${file} --execute`;
  const rows = plan.rows.map((r) => ({ partition: r.partition, current: r.current, target: r.target }));
  const auditRef = await withAudit(
    ctx,
    {
      command: options.command ?? `offsets reset --group ${group} --topic ${topic} --${plan.strategy}`,
      plan: { rows, rollbackFile: file },
    },
    async ({ id }) => {
      const admin = await ctx.admin();
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: plan.rows.map((r) => ({ partition: r.partition, offset: String(r.target) })),
      });
      return { value: id, result: { executed: true, rollbackFile: file } };
    },
  );
  return { ...plan, executed: true, rollbackFile: file, rollbackCommand, auditRef };
}

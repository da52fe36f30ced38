import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ExitCode, OrderbusError, errorMessage, isOrderbusError } from '../errors.js';
import type { OpsContext } from './context.js';
import { ensureOpsTopic, sendAcked, type OpsTopicSpec } from './ops-topic.js';
import { guardChange } from './target.js';

/**
 * The audit trail, audit first: a changing command writes an intent (who, where, what it is about
 * to do) to the `orderbus.audit` topic and has it acknowledged by every in-sync replica before it
 * changes anything, then a result record with the same id. An intent without a result is a
 * command that never finished: `orderbus audit` shows it as `interrupted`.
 */

/** One partition (read in the order written), kept forever. */
const auditTopic = (ctx: OpsContext): OpsTopicSpec => ({
  topic: ctx.config.topics.audit,
  configEntries: [{ name: 'retention.ms', value: '-1' }],
});

export type AuditStatus = 'done' | 'partial' | 'failed' | 'interrupted';

/** The cluster a command changed, as it answered: recorded with every intent. */
export interface AuditTarget {
  context: string | null;
  bootstrapServers: string[];
  clusterId: string;
}

/** sha256 of a payload before (and after an edit), for a message a command changed or removed. */
export interface PayloadHash {
  id: string;
  before: string;
  after?: string;
}

/** One changing command as `orderbus audit` shows it: its intent joined with its result. */
export interface AuditRecord {
  id: string;
  /** When the intent was written (before anything changed). */
  at: string;
  operator: string;
  host: string;
  command: string;
  /** Null on records written before targets were recorded. */
  target: AuditTarget | null;
  /** What the dry run showed (summary). */
  plan: unknown;
  /** `interrupted` while an intent has no result. */
  status: AuditStatus;
  /** Null while interrupted. */
  result: unknown;
  finishedAt: string | null;
  /** The messages the command changed or removed (from the result, else from the intent). */
  payloadHashes?: PayloadHash[];
}

/** What a changing command is about to do. */
export interface AuditIntent {
  command: string;
  plan: unknown;
  /** The payloads it is about to change, when known before it starts. */
  payloadHashes?: PayloadHash[];
}

/** What the change did: `value` goes back to the caller, the rest into the result record. */
export interface AuditOutcome<T> {
  value: T;
  result: unknown;
  /** `done` unless said otherwise. */
  status?: Exclude<AuditStatus, 'interrupted'>;
  payloadHashes?: PayloadHash[];
}

/** One record on the topic: an intent, a result, or (chaos drills, older versions) both in one. */
export type WireRecord =
  | ({
      phase: 'intent';
      id: string;
      at: string;
      operator: string;
      host: string;
      target: AuditTarget;
    } & AuditIntent)
  | {
      phase: 'result';
      id: string;
      at: string;
      status: AuditStatus;
      result: unknown;
      payloadHashes?: PayloadHash[];
    }
  | (Omit<AuditRecord, 'status' | 'target' | 'finishedAt'> & { phase?: undefined });

export const sha256 = (data: Buffer | string | null): string =>
  createHash('sha256')
    .update(data ?? '')
    .digest('hex');

export function newAuditRef(): string {
  return randomUUID();
}

async function send(ctx: OpsContext, rec: WireRecord & { command?: string }): Promise<void> {
  await sendAcked(ctx, auditTopic(ctx), [
    { key: rec.command ?? rec.id, value: JSON.stringify(rec), headers: { 'audit-id': rec.id } },
  ]);
}

function auditUnavailable(ctx: OpsContext, command: string, e: unknown): OrderbusError {
  const topic = ctx.config.topics.audit;
  return new OrderbusError(
    'AUDIT_UNAVAILABLE',
    `cannot write the audit record to ${topic} (${errorMessage(e)}): refusing to ${command}; nothing was changed`,
    {
      hint: `orderbus status (the audit topic ${topic} must accept acks=all writes), then run the command again`,
      subject: topic,
      cause: e,
    },
  );
}

/** What a change is handed: its audit id, and where to say how far it got (for a failure midway). */
export interface AuditRun {
  /** The audit id: stamp it on what the change writes (headers), return it to the operator. */
  readonly id: string;
  /** What was changed so far; a change that then throws is recorded as partial with it. */
  progress(sofar: Record<string, unknown>): void;
}

/**
 * Audit first: writes the intent (acks=all), and only then runs `change`; then writes the result
 * (done, or the outcome's status). When the intent cannot be written nothing is changed
 * (AUDIT_UNAVAILABLE, exit 1). A change that throws is recorded as failed (partial when it
 * reported progress) and rethrown. A result that cannot be written is not an error (the change
 * happened): the intent then reads as interrupted, which sends the operator to look.
 */
export async function withAudit<T>(
  ctx: OpsContext,
  intent: AuditIntent,
  change: (run: AuditRun) => Promise<AuditOutcome<T>>,
): Promise<T> {
  const id = newAuditRef();
  // A read-only context or brokers answering with another cluster id than the pinned one refuse
  // (exit 3) before anything is written; the target goes into the intent record.
  const target = await guardChange(ctx, intent.command).catch((e: unknown) => {
    throw isOrderbusError(e) && e.exitCode === ExitCode.unsafe ? e : auditUnavailable(ctx, intent.command, e);
  });
  try {
    await send(ctx, {
      phase: 'intent',
      id,
      at: new Date().toISOString(),
      operator: ctx.config.operator,
      host: hostname(),
      target,
      ...intent,
    });
  } catch (e) {
    throw auditUnavailable(ctx, intent.command, e);
  }
  const finish = (o: Omit<AuditOutcome<unknown>, 'value'>) =>
    send(ctx, {
      phase: 'result',
      id,
      at: new Date().toISOString(),
      status: o.status ?? 'done',
      result: o.result,
      ...(o.payloadHashes ? { payloadHashes: o.payloadHashes } : {}),
    }).catch(() => undefined);
  let sofar: Record<string, unknown> | undefined;
  let outcome: AuditOutcome<T>;
  try {
    outcome = await change({ id, progress: (p) => (sofar = p) });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    await finish({
      status: sofar ? 'partial' : 'failed',
      result: { ...sofar, error: errorMessage(e), ...(typeof code === 'string' ? { code } : {}) },
    });
    throw e;
  }
  await finish(outcome);
  return outcome.value;
}

/**
 * A record of something already done, in one piece (chaos drills, which change only the stack
 * they start). Changing commands use withAudit.
 */
export async function appendAudit(
  ctx: OpsContext,
  entry: Omit<AuditRecord, 'at' | 'operator' | 'host' | 'id' | 'status' | 'target' | 'finishedAt'> & {
    id?: string;
  },
): Promise<AuditRecord> {
  const rec = {
    ...entry,
    id: entry.id ?? newAuditRef(),
    at: new Date().toISOString(),
    operator: ctx.config.operator,
    host: hostname(),
  };
  await send(ctx, rec);
  return { ...rec, target: null, status: 'done', finishedAt: rec.at };
}

export interface AuditQuery {
  since?: Date;
  command?: string;
  limit?: number;
}

/** Joins intents with their results: one AuditRecord per command. */
export function joinAudit(wire: WireRecord[]): AuditRecord[] {
  const byId = new Map<string, AuditRecord>();
  const results: Extract<WireRecord, { phase: 'result' }>[] = [];
  for (const w of wire) {
    if (w.phase === 'result') results.push(w);
    else if (w.phase === 'intent') {
      const { phase: _, payloadHashes, ...intent } = w;
      byId.set(w.id, {
        ...intent,
        status: 'interrupted',
        result: null,
        finishedAt: null,
        ...(payloadHashes ? { payloadHashes } : {}),
      });
    } else byId.set(w.id, { ...w, target: null, status: 'done', finishedAt: w.at });
  }
  for (const r of results) {
    const rec = byId.get(r.id);
    if (!rec) continue;
    rec.status = r.status;
    rec.result = r.result;
    rec.finishedAt = r.at;
    if (r.payloadHashes) rec.payloadHashes = r.payloadHashes;
  }
  return [...byId.values()];
}

/** The audit records, oldest first (filtered). */
export async function listAudit(ctx: OpsContext, query: AuditQuery = {}): Promise<AuditRecord[]> {
  if (!(await ensureOpsTopic(ctx, auditTopic(ctx), false))) return [];
  const admin = await ctx.admin();
  const topic = ctx.config.topics.audit;
  const marks = await admin.fetchTopicOffsets(topic);
  const wire: WireRecord[] = [];
  for (const m of marks) {
    await ctx.reader().readRange(topic, m.partition, Number(m.low), Number(m.high), (batch) => {
      for (const r of batch) {
        try {
          const w = JSON.parse(r.value?.toString('utf8') ?? '') as WireRecord;
          if (typeof w.id === 'string') wire.push(w);
        } catch {
          // not ours
        }
      }
    });
  }
  const out = joinAudit(wire).filter(
    (rec) =>
      (!query.since || Date.parse(rec.at) >= query.since.getTime()) &&
      (!query.command || rec.command.startsWith(query.command)),
  );
  out.sort((a, b) => a.at.localeCompare(b.at));
  return query.limit ? out.slice(-query.limit) : out;
}

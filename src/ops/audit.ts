import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createTopicsAndWait } from '../adapters/kafka.js';
import { causeChain, retry, type RetryPolicy } from '../retry.js';
import type { OpsContext } from './context.js';

async function auditTopicExists(ctx: OpsContext, create: boolean): Promise<boolean> {
  const admin = await ctx.admin();
  const topic = ctx.config.topics.audit;
  if ((await admin.listTopics()).includes(topic)) return true;
  if (!create) return false;
  // Normally created by `stack up`; created here too so an audit record is never lost to a missing topic.
  await createTopicsAndWait(admin, [
    {
      topic,
      numPartitions: 1,
      replicationFactor: ctx.config.topics.replicationFactor,
      configEntries: [{ name: 'retention.ms', value: '-1' }],
    },
  ]).catch((e: unknown) => {
    if (!/already exists/i.test(String(e))) throw e;
  });
  return true;
}

/** A send to a just-created audit topic: every 500 ms, 20 attempts (about 10 s). */
export const AUDIT_SEND_RETRY: RetryPolicy = { initialMs: 500, maxMs: 500, multiplier: 1, maxAttempts: 20 };

/**
 * kafkajs error types that mean a new topic's metadata has not reached every broker yet (what the
 * send above waits out). kafkajs' own retries end in an error that wraps the last of them.
 */
const METADATA_NOT_PROPAGATED = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);

const metadataNotPropagated = (e: unknown): boolean =>
  causeChain(e).some((c) => METADATA_NOT_PROPAGATED.has(String((c as { type?: unknown }).type)));

/**
 * The audit trail: every changing command (and every chaos drill) appends one record to the
 * `orderbus.audit` topic (one partition, kept forever), before it reports success.
 */
export interface AuditRecord {
  id: string;
  at: string;
  operator: string;
  host: string;
  command: string;
  /** What the dry run showed (summary). */
  plan: unknown;
  result: unknown;
  /** sha256 of payloads before/after, for the messages a command changed or removed. */
  payloadHashes?: { id: string; before: string; after?: string }[];
}

export const sha256 = (data: Buffer | string | null): string =>
  createHash('sha256')
    .update(data ?? '')
    .digest('hex');

export function newAuditRef(): string {
  return randomUUID();
}

export async function appendAudit(
  ctx: OpsContext,
  entry: Omit<AuditRecord, 'at' | 'operator' | 'host' | 'id'> & { id?: string },
): Promise<AuditRecord> {
  const record: AuditRecord = {
    ...entry,
    id: entry.id ?? newAuditRef(),
    at: new Date().toISOString(),
    operator: ctx.config.operator,
    host: hostname(),
  };
  await auditTopicExists(ctx, true);
  const producer = await ctx.producer();
  // A just-created audit topic can take a moment to reach every broker's metadata: retry
  // "does not host this topic-partition" for a few seconds rather than lose the record.
  await retry(
    () =>
      producer.send({
        topic: ctx.config.topics.audit,
        acks: -1,
        messages: [
          { key: record.command, value: JSON.stringify(record), headers: { 'audit-id': record.id } },
        ],
      }),
    AUDIT_SEND_RETRY,
    { retriable: metadataNotPropagated },
  );
  return record;
}

export interface AuditQuery {
  since?: Date;
  command?: string;
  limit?: number;
}

/** The audit records, oldest first (filtered). */
export async function listAudit(ctx: OpsContext, query: AuditQuery = {}): Promise<AuditRecord[]> {
  if (!(await auditTopicExists(ctx, false))) return [];
  const admin = await ctx.admin();
  const topic = ctx.config.topics.audit;
  const marks = await admin.fetchTopicOffsets(topic);
  const out: AuditRecord[] = [];
  for (const m of marks) {
    await ctx.reader().readRange(topic, m.partition, Number(m.low), Number(m.high), (batch) => {
      for (const r of batch) {
        if (query.since && r.timestamp < query.since.getTime()) continue;
        try {
          const rec = JSON.parse(r.value?.toString('utf8') ?? '') as AuditRecord;
          if (query.command && !rec.command.startsWith(query.command)) continue;
          out.push(rec);
        } catch {
          // not ours
        }
      }
    });
  }
  out.sort((a, b) => a.at.localeCompare(b.at));
  return query.limit ? out.slice(-query.limit) : out;
}

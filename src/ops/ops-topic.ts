import type { IHeaders } from 'kafkajs';
import { createTopicsAndWait } from '../adapters/kafka.js';
import { causeChain, retry, type RetryPolicy } from '../retry.js';
import type { OpsContext } from './context.js';

/**
 * The topics the operations side keeps its own state in (the audit trail, the Kafka DLQ cursor):
 * created when missing (normally by `stack up`), written with acks=all.
 */
export interface OpsTopicSpec {
  topic: string;
  configEntries: { name: string; value: string }[];
}

/** Whether the topic exists; with `create`, creates it first when missing (one partition). */
export async function ensureOpsTopic(ctx: OpsContext, spec: OpsTopicSpec, create = true): Promise<boolean> {
  if ((await ctx.existingTopics([spec.topic])).has(spec.topic)) return true;
  if (!create) return false;
  const admin = await ctx.admin();
  const rf = ctx.config.topics.replicationFactor;
  await createTopicsAndWait(admin, [
    {
      topic: spec.topic,
      numPartitions: 1,
      replicationFactor: rf,
      configEntries: [
        ...(rf >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : []),
        ...spec.configEntries,
      ],
    },
  ]).catch((e: unknown) => {
    if (!/already exists/i.test(String(e))) throw e;
  });
  return true;
}

/** A send to a just-created topic: every 500 ms, 20 attempts (about 10 s). */
export const OPS_SEND_RETRY: RetryPolicy = { initialMs: 500, maxMs: 500, multiplier: 1, maxAttempts: 20 };

/**
 * kafkajs error types that mean a new topic's metadata has not reached every broker yet (what the
 * send waits out). kafkajs' own retries end in an error that wraps the last of them.
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

/** Appends to an ops topic (created when missing), acknowledged by every in-sync replica. */
export async function sendAcked(
  ctx: OpsContext,
  spec: OpsTopicSpec,
  messages: { key: string; value: string | null; headers?: IHeaders }[],
): Promise<void> {
  await ensureOpsTopic(ctx, spec);
  const producer = await ctx.producer();
  await retry(() => producer.send({ topic: spec.topic, acks: -1, messages }), OPS_SEND_RETRY, {
    retriable: metadataNotPropagated,
  });
}

import type { Admin } from 'kafkajs';
import type { OrderbusConfig } from '../../config.js';
import { createTopicsAndWait } from '../../adapters/kafka.js';
import { cursorTopicSpec } from '../../ops/dlq/kafka-cursor.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: { name: string; value: string }[];
}

/** The topics the pipeline needs; created explicitly (the brokers never auto-create). */
export function pipelineTopics(config: OrderbusConfig): TopicSpec[] {
  return [
    { topic: config.topics.orderEvents, numPartitions: config.topics.partitions },
    {
      topic: config.topics.orderEventsDlq,
      numPartitions: 3,
      configEntries: [{ name: 'retention.ms', value: String(14 * 24 * 3600 * 1000) }],
    },
    // One partition: the audit trail is read in the order it was written.
    { topic: config.topics.audit, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] },
    // The Kafka DLQs' cursors (compacted; the ops side creates it too when missing).
    { ...cursorTopicSpec(config), numPartitions: 1 },
  ];
}

/** Creates the missing ones; returns the names created now. */
export async function ensureTopics(
  admin: Admin,
  specs: TopicSpec[],
  replicationFactor: number,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return [];
  await createTopicsAndWait(
    admin,
    missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor,
      configEntries: [
        ...(replicationFactor >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : []),
        ...(s.configEntries ?? []),
      ],
    })),
  );
  return missing.map((s) => s.topic);
}

import type { OrderbusConfig } from '../config.js';
import { kafkaClient } from './kafka.js';
import { RawKafka, type ApiVersionRanges } from './kafka-raw.js';

export type { ApiVersionRanges };

/**
 * The Kafka release each broker runs, as far as its ApiVersions answer tells it. Kafka has no
 * request that returns the software version, so this reads the API keys and versions a broker
 * advertises (kafkajs keeps them per broker connection) and maps the newest telling one to the
 * first release that had it: precise to the minor release for 3.7–3.9, `4.x` from 4.0 on (the
 * KIP-896 removals), a range before 3.7. Checked against 3.9.1 and 4.4.0 brokers.
 */

const FETCH = 1;
const DESCRIBE_TRANSACTIONS = 65;
const CONSUMER_GROUP_DESCRIBE = 69;
const DESCRIBE_TOPIC_PARTITIONS = 75;
const ADD_RAFT_VOTER = 80;

/** Newest first: the first rule that holds names the release. */
const RELEASE_RULES: [string, (v: ApiVersionRanges) => boolean][] = [
  // Kafka 4.0 removed Fetch v0–v3 (KIP-896, with other protocol versions older than 2.1).
  ['4.x', (v) => (v[FETCH]?.minVersion ?? 0) >= 4],
  ['3.9', (v) => v[ADD_RAFT_VOTER] !== undefined], // KIP-853, dynamic KRaft quorums
  ['3.8', (v) => v[DESCRIBE_TOPIC_PARTITIONS] !== undefined], // KIP-966
  ['3.7', (v) => v[CONSUMER_GROUP_DESCRIBE] !== undefined], // KIP-848 early access
  ['3.0–3.6', (v) => v[DESCRIBE_TRANSACTIONS] !== undefined], // KIP-664
];

export function releaseFromApiVersions(versions: ApiVersionRanges): string {
  return RELEASE_RULES.find(([, holds]) => holds(versions))?.[0] ?? '< 3.0';
}

interface VersionedCluster {
  brokerPool: { brokers: Record<string, unknown> };
  findBroker(args: { nodeId: string }): Promise<{ versions: ApiVersionRanges | null }>;
}

/** The cluster as its brokers describe it, with the release each broker runs. */
export interface ClusterHealth {
  brokers: { nodeId: number; host: string; port: number }[];
  controller: number | null;
  clusterId: string;
  /** Each broker's release by node id ('unknown' where its ApiVersions answer is not at hand). */
  releases: Map<number, string>;
}

/**
 * The brokers, the controller, the cluster id and each broker's release: one short-timeout client
 * without retries, one Metadata request for no topic (kafka-raw.ts), one connection per broker
 * for its ApiVersions. Made every 2 s by the console's health line, so it decodes no topic.
 */
export async function describeBrokers(config: OrderbusConfig, brokers: string[]): Promise<ClusterHealth> {
  const kafka = kafkaClient(
    { ...config, kafka: { ...config.kafka, brokers, connectionTimeoutMs: 1500, requestTimeoutMs: 3000 } },
    'orderbus-health',
    { retry: { retries: 0 } },
  );
  const raw = new RawKafka(kafka);
  try {
    const cluster = await raw.connect([]);
    const metadata = raw.metadata(cluster);
    const versioned = cluster as unknown as VersionedCluster;
    const releases = await Promise.all(
      Object.keys(versioned.brokerPool.brokers).map(async (nodeId) => {
        const versions = await versioned
          .findBroker({ nodeId })
          .then((b) => b.versions)
          .catch(() => null);
        return [Number(nodeId), versions ? releaseFromApiVersions(versions) : 'unknown'] as const;
      }),
    );
    return {
      brokers: metadata.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
      controller: metadata.controllerId >= 0 ? metadata.controllerId : null,
      clusterId: metadata.clusterId ?? '',
      releases: new Map(releases),
    };
  } finally {
    await raw.close().catch(() => undefined);
  }
}

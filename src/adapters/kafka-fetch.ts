import type { Kafka } from 'kafkajs';
import { OrderbusError } from '../errors.js';

/**
 * Reads the timestamp of the record at given offsets with raw Fetch requests — what time lag
 * needs (the age of the oldest unconsumed record) without joining a consumer group. kafkajs has
 * no public API for this, so this adapter uses its cluster internals, kept here in one place so
 * the client can be swapped. One Fetch per broker per round; a round holds each partition once.
 */
interface RawMessage {
  offset: string;
  timestamp: string;
}
interface RawBroker {
  fetch(args: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{
    responses: {
      topicName: string;
      partitions: { partition: number; errorCode: number; messages: RawMessage[] }[];
    }[];
  }>;
}
interface RawCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<RawBroker>;
}

export interface OffsetProbe {
  topic: string;
  partition: number;
  offset: number;
}

export class RecordTimestampReader {
  private cluster: RawCluster | undefined;

  constructor(private readonly kafka: Kafka) {}

  private async connect(): Promise<RawCluster> {
    if (this.cluster) return this.cluster;
    const sym = Object.getOwnPropertySymbols(this.kafka).find(
      (s) => s.description === 'private:Kafka:createCluster',
    );
    const create = sym
      ? ((this.kafka as unknown as Record<symbol, unknown>)[sym] as ((o: object) => RawCluster) | undefined)
      : undefined;
    if (!create)
      throw new OrderbusError(
        'KAFKA_CLIENT_UNSUPPORTED',
        'this kafkajs version does not expose its cluster; time lag is unavailable',
        { hint: 'orderbus lag still reports offsets' },
      );
    const cluster = create({ allowAutoTopicCreation: false, isolationLevel: 1, metadataMaxAge: 300000 });
    await cluster.connect();
    this.cluster = cluster;
    return cluster;
  }

  /** Timestamps (ms) of the records at the given offsets; absent when there is no record there. */
  async timestamps(probes: OffsetProbe[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (probes.length === 0) return out;
    const cluster = await this.connect();
    await cluster.addMultipleTargetTopics([...new Set(probes.map((p) => p.topic))]);
    const unique = [...new Map(probes.map((p) => [key(p), p])).values()];
    let remaining = unique;
    while (remaining.length > 0) {
      // One round: each topic-partition at most once.
      const round: OffsetProbe[] = [];
      const later: OffsetProbe[] = [];
      const used = new Set<string>();
      for (const p of remaining) {
        const tp = `${p.topic}/${p.partition}`;
        if (used.has(tp)) later.push(p);
        else {
          used.add(tp);
          round.push(p);
        }
      }
      await this.fetchRound(cluster, round, out);
      remaining = later;
    }
    return out;
  }

  private async fetchRound(
    cluster: RawCluster,
    round: OffsetProbe[],
    out: Map<string, number>,
  ): Promise<void> {
    const byLeader = new Map<string, OffsetProbe[]>();
    for (const p of round) {
      const leaders = cluster.findLeaderForPartitions(p.topic, [p.partition]);
      const leader = Object.keys(leaders)[0];
      if (leader === undefined) continue;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    await Promise.all(
      [...byLeader].map(async ([nodeId, ps]) => {
        const broker = await cluster.findBroker({ nodeId });
        const topics = [...new Set(ps.map((p) => p.topic))].map((topic) => ({
          topic,
          partitions: ps
            .filter((p) => p.topic === topic)
            .map((p) => ({ partition: p.partition, fetchOffset: String(p.offset), maxBytes: 1024 })),
        }));
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes: 1024 * 1024,
          topics,
        });
        for (const t of res.responses) {
          for (const part of t.partitions) {
            const probe = ps.find((p) => p.topic === t.topicName && p.partition === part.partition);
            if (!probe) continue;
            // A batch may start before the offset asked for: take the first record at or after it.
            const m = part.messages.find((x) => Number(x.offset) >= probe.offset);
            if (m) out.set(key(probe), Number(m.timestamp));
          }
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.cluster?.disconnect().catch(() => undefined);
    this.cluster = undefined;
  }
}

export function key(p: OffsetProbe): string {
  return `${p.topic}/${p.partition}/${p.offset}`;
}

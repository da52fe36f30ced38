import type { Kafka } from 'kafkajs';
import { OrderbusError } from '../errors.js';
import { SharedClient, unknownTopic } from './kafka.js';

/**
 * kafkajs' cluster internals (metadata, leaders, broker connections) kept in one place, so the
 * client can be swapped: the raw Fetch of kafka-fetch.ts and kafka-batch-headers.ts, the raw Produce
 * of kafka-produce.ts and the group requests of kafka-groups.ts are sent through them.
 */
export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[] | undefined>;
  isControlRecord?: boolean;
}
export interface RawFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  messages: RawMessage[];
}
export interface RawBroker {
  connectionPool: { send(request: RawProtocolRequest): Promise<unknown> };
  initProducerId(args: {
    transactionTimeout: number;
  }): Promise<{ producerId: string; producerEpoch: number }>;
  fetch(args: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: RawFetchPartition[] }[] }>;
}
export interface RawCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<RawBroker>;
  findGroupCoordinator(args: { groupId: string }): Promise<RawCoordinator>;
}
/** A request kafkajs' connection frames and sends as is; `decode` and `parse` read its response. */
export interface RawProtocolRequest {
  request: {
    apiKey: number;
    apiVersion: number;
    apiName: string;
    expectResponse?: () => boolean;
    encode(): Promise<{ buf: Buffer; buffer: Buffer; size(): number }>;
  };
  response: { decode(raw: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> };
  requestTimeout?: number;
}
export interface RawCoordinator {
  offsetCommit(args: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    retentionTime?: number;
    topics: { topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[];
  }): Promise<unknown>;
}

/** kafkajs' cluster without a consumer or producer on top, shared by concurrent callers. */
export class RawKafka {
  private readonly cluster: SharedClient<RawCluster>;

  constructor(kafka: Kafka) {
    this.cluster = new SharedClient(async () => {
      const sym = Object.getOwnPropertySymbols(kafka).find(
        (s) => s.description === 'private:Kafka:createCluster',
      );
      const create = sym
        ? ((kafka as unknown as Record<symbol, unknown>)[sym] as ((o: object) => RawCluster) | undefined)
        : undefined;
      if (!create)
        throw new OrderbusError(
          'KAFKA_CLIENT_UNSUPPORTED',
          'this kafkajs version does not expose its cluster; reading records directly is unavailable',
          { hint: 'pin kafkajs to 2.2.x (package.json)' },
        );
      const cluster = create({ allowAutoTopicCreation: false, isolationLevel: 1, metadataMaxAge: 300000 });
      await cluster.connect();
      return cluster;
    });
  }

  /** The shared client, with metadata for `topics`. */
  async connect(topics: string[], fresh = false): Promise<RawCluster> {
    // One client for concurrent callers (several partitions read at once): each awaits the same
    // connect and then its own topics' metadata on that client.
    const cluster = await this.cluster.get();
    try {
      await cluster.addMultipleTargetTopics(topics);
    } catch (e) {
      // The client refreshes metadata for every topic it was ever asked about; one deleted since
      // (a console running for hours) fails every refresh. A fresh client knows only these.
      if (fresh) throw e;
      await this.cluster.replace(cluster);
      return this.connect(topics, true);
    }
    return cluster;
  }

  /**
   * The shared client after `stale` (the one a failed request used) is replaced by a fresh one:
   * current metadata, and only the topics asked since (a client that asked for a topic deleted
   * since fails every metadata refresh until it is replaced). The one place a client is swapped:
   * callers failing at once on the same client (concurrent fetches) swap it once, and requests in
   * flight on the old one finish before it is closed.
   */
  async reconnect(topics: string[], stale: RawCluster): Promise<RawCluster> {
    await this.cluster.replace(stale);
    return this.connect(topics);
  }

  /**
   * `cluster` with its metadata refreshed, or in its place a fresh client knowing `topics` when a
   * topic it asked for was deleted since: every refresh of that client fails until it is replaced
   * (a view over groups whose topics other teams delete, status beside tests deleting theirs).
   */
  async refreshed(cluster: RawCluster, topics: string[] = []): Promise<RawCluster> {
    try {
      await cluster.refreshMetadata();
      return cluster;
    } catch (e) {
      if (!unknownTopic(e)) throw e;
      return this.reconnect(topics, cluster);
    }
  }

  /** The node id of a partition's leader (metadata refreshed once if it names none). */
  async leaderId(cluster: RawCluster, topic: string, partition: number): Promise<string> {
    let leader = Object.keys(cluster.findLeaderForPartitions(topic, [partition]))[0];
    if (leader === undefined) {
      await cluster.refreshMetadata();
      leader = Object.keys(cluster.findLeaderForPartitions(topic, [partition]))[0];
    }
    if (leader === undefined)
      throw new OrderbusError('KAFKA_NO_LEADER', `${topic}/${partition} has no leader`, {
        hint: 'orderbus stack status',
        retriable: true,
      });
    return leader;
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }
}

/** A connection of kafkajs' broker connection pool, as far as connecting it goes. */
interface PoolConnection {
  isConnected(): boolean;
  connect(): Promise<unknown>;
}
const connecting = new WeakMap<PoolConnection, Promise<unknown>>();

/**
 * Connects `broker`'s Fetch connection once for any number of concurrent callers. kafkajs' pool
 * connects it on the first Fetch and, asked by several Fetches at once, opens a socket for each and
 * keeps the last: the others were never closed (three concurrent time-lag slices left five sockets
 * open after every client was closed, and the process did not exit).
 */
export async function fetchConnectionReady(broker: Pick<RawBroker, 'connectionPool'>): Promise<void> {
  // kafkajs' ConnectionPool.getConnectionByRequest: Fetch (api key 1) on the second connection.
  const c = (broker.connectionPool as unknown as { pool?: PoolConnection[] }).pool?.[1];
  if (!c || c.isConnected()) return;
  let ready = connecting.get(c);
  if (!ready) {
    ready = c.connect().finally(() => connecting.delete(c));
    connecting.set(c, ready);
  }
  await ready;
}

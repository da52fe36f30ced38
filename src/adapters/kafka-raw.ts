import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { OrderbusError } from '../errors.js';
import { SharedClient, unknownTopic } from './kafka.js';
import { bytesRequest, WireReader } from './kafka-wire.js';

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

const require_ = createRequire(import.meta.url);
const METADATA = 3;
const metadataV4Response = require_('kafkajs/src/protocol/requests/metadata/v4/response') as {
  decode(raw: Buffer): Promise<MetadataAnswer>;
};

/** A Metadata answer as kafkajs decodes it (v4: cluster id and controller included). */
export interface MetadataAnswer {
  brokers: { nodeId: number; host: string; port: number; rack: string | null }[];
  clusterId: string | null;
  controllerId: number;
  topicMetadata: {
    topicErrorCode: number;
    topic: string;
    partitionMetadata: { partitionErrorCode: number; partitionId: number; leader: number }[];
  }[];
}

export type ApiVersionRanges = Record<number, { minVersion: number; maxVersion: number } | undefined>;

export const supportsVersion = (
  versions: ApiVersionRanges | null | undefined,
  apiKey: number,
  version: number,
) => {
  const v = versions?.[apiKey];
  return v !== undefined && v.minVersion <= version && version <= v.maxVersion;
};

/**
 * Metadata v4 for `topics` and no other (null: every topic); for none, the brokers, the controller
 * and the cluster id. kafkajs' own request cannot ask for no topic: it encodes an empty list as
 * null, which means every topic. A topic's error is left in its answer (kafkajs' parse throws on
 * the first). v4, not older: Kafka 4 answers v4 and up only (KIP-896).
 */
export function metadataV4<T = MetadataAnswer>(
  topics: readonly string[] | null,
  decode: (raw: Buffer) => Promise<T> = metadataV4Response.decode as (raw: Buffer) => Promise<T>,
) {
  const names = (topics ?? []).map((t) => Buffer.from(t, 'utf8'));
  const body = Buffer.alloc(4 + names.reduce((n, b) => n + 2 + b.length, 0) + 1);
  let o = body.writeInt32BE(topics === null ? -1 : names.length, 0);
  for (const b of names) {
    o = body.writeInt16BE(b.length, o);
    o += b.copy(body, o);
  }
  body.writeInt8(0, o); // allow_auto_topic_creation: false
  return {
    request: bytesRequest(METADATA, 4, 'Metadata', body),
    response: { decode, parse: async (d: T) => d },
  };
}

/**
 * Each topic's name and error code from a Metadata v4 answer, stepping over the brokers and the
 * partitions without decoding them: listing the topics of a cluster of 10,000 partitions reads a
 * ~1 MB answer, which kafkajs decodes into ~50,000 objects to keep 500 names.
 */
export async function topicNamesV4(raw: Buffer): Promise<{ topic: string; errorCode: number }[]> {
  const r = new WireReader(raw);
  r.skip(4); // throttle_time_ms
  for (let b = r.int32Count(); b > 0; b--) {
    r.skip(4); // node_id
    r.int16String(); // host
    r.skip(4); // port
    r.int16String(); // rack
  }
  r.int16String(); // cluster_id
  r.skip(4); // controller_id
  const out: { topic: string; errorCode: number }[] = [];
  for (let t = r.int32Count(); t > 0; t--) {
    const errorCode = r.int16();
    const topic = r.int16String() ?? '';
    r.skip(1); // is_internal
    for (let p = r.int32Count(); p > 0; p--) {
      r.skip(2 + 4 + 4); // error_code, partition, leader
      r.skip(4 * r.int32Count()); // replicas
      r.skip(4 * r.int32Count()); // isr
    }
    out.push({ topic, errorCode });
  }
  return out;
}

/** UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED. */
const MISSING_TOPIC = [3, 17, 29];

interface KafkajsBroker {
  versions: ApiVersionRanges | null;
  connectionPool: { send<T>(request: ReturnType<typeof metadataV4<T>>): Promise<T> };
  metadata(topics?: string[]): Promise<MetadataAnswer>;
}

/**
 * Makes the client's metadata refresh ask for no topic when it has no topic to ask about. kafkajs
 * refreshes for its target topics, and a client that has none yet (its first connect, a health
 * check) asks its broker for every topic: on a cluster of 10,000 partitions, a ~1 MB answer
 * decoded to learn the brokers. Every broker the client creates (the seed first) gets it.
 */
function askNoTopicForNone(cluster: RawCluster): void {
  const pool = (cluster as unknown as { brokerPool: { createBroker(options: object): KafkajsBroker } })
    .brokerPool;
  const createBroker = pool.createBroker.bind(pool);
  pool.createBroker = (options) => {
    const broker = createBroker(options);
    const asKafkajs = broker.metadata.bind(broker);
    broker.metadata = (topics = []) =>
      topics.length === 0 && supportsVersion(broker.versions, METADATA, 4)
        ? broker.connectionPool.send(metadataV4([]))
        : asKafkajs(topics);
    return broker;
  };
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
      askNoTopicForNone(cluster);
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

  /** The last metadata the client read (after `connect`, at least the brokers). */
  metadata(cluster: RawCluster): MetadataAnswer {
    return (cluster as unknown as { brokerPool: { metadata: MetadataAnswer } }).brokerPool.metadata;
  }

  /** Some broker of the cluster, for a request any broker answers. */
  private async anyBroker(): Promise<KafkajsBroker> {
    return (await brokerById(await this.connect([]))) as unknown as KafkajsBroker;
  }

  /**
   * Which of `topics` exist: one Metadata request naming them, where kafkajs' listTopics decodes
   * every topic of the cluster (10,000 partitions on a big one) to answer the same. A topic the
   * client may not describe counts as missing, as listTopics leaves it out.
   */
  async existingTopics(topics: string[]): Promise<Set<string>> {
    if (topics.length === 0) return new Set();
    const answer = await (await this.anyBroker()).connectionPool.send(metadataV4(topics, topicNamesV4));
    return new Set(answer.filter((t) => !MISSING_TOPIC.includes(t.errorCode)).map((t) => t.topic));
  }

  /**
   * The cluster's topics, by name: kafkajs' listTopics asks for every topic and decodes each
   * partition of each (and its admin, whose metadata never counts as fresh, asks twice).
   */
  async topicNames(): Promise<string[]> {
    const answer = await (await this.anyBroker()).connectionPool.send(metadataV4(null, topicNamesV4));
    return answer.filter((t) => !MISSING_TOPIC.includes(t.errorCode)).map((t) => t.topic);
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

/** Broker `nodeId` (or any broker), metadata refreshed once if the client does not know it yet. */
export async function brokerById(cluster: RawCluster, nodeId?: number): Promise<RawBroker> {
  // Read again after the refresh: kafkajs replaces the pool's broker map.
  const brokers = () =>
    (cluster as unknown as { brokerPool: { brokers: Record<string, unknown> } }).brokerPool.brokers;
  const pick = () => (nodeId === undefined ? Object.keys(brokers())[0] : String(nodeId));
  let id = pick();
  if (id === undefined || !(id in brokers())) {
    await cluster.refreshMetadata();
    id = pick();
  }
  return cluster.findBroker({ nodeId: id ?? '' });
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

import { createRequire } from 'node:module';
import { AssignerProtocol, type Admin } from 'kafkajs';
import { chunks, mapLimit } from '../map-limit.js';
import { retriableFlag, retry } from '../retry.js';
import { COORDINATOR_RETRY, unknownTopic, whileCoordinatorLoads } from './kafka.js';
import {
  brokerById as rawBrokerById,
  RawKafka,
  supportsVersion,
  type ApiVersionRanges,
  type MetadataAnswer,
  type RawCluster,
} from './kafka-raw.js';
import {
  CONSUMER_GROUP_DESCRIBE,
  consumerGroupDescribeV0,
  FIND_COORDINATOR,
  findGroupCoordinatorsV4,
  LIST_GROUPS,
  listGroupsV5,
  listOffsetsV2,
  OFFSET_FETCH,
  offsetFetchV8,
  type ConsumerGroupAnswer,
  type CoordinatorAnswer,
  type DescribedGroup,
  type GroupOffsets,
  type ListedGroup,
  type PartitionOffset,
} from './kafka-group-requests.js';

/**
 * Consumer groups of both protocols. Classic groups are described with DescribeGroups (kafkajs);
 * groups of the consumer protocol (KIP-848, GA in Kafka 4.0) are invisible to it and are
 * described with ConsumerGroupDescribe (API key 69), and ListGroups v5 says which protocol each
 * group speaks. kafkajs has neither request, so both are written here and sent through kafkajs'
 * broker connections (RawKafka), as kafka-produce.ts sends its Produce.
 */

export type { DescribedGroup, GroupMember, GroupProtocol, ListedGroup } from './kafka-group-requests.js';

/** The members of kafkajs' Broker this file uses (kafka-raw.ts types the others). */
interface GroupBroker {
  versions: ApiVersionRanges | null;
  connectionPool: { send(request: unknown): Promise<unknown> };
  metadata(topics: string[]): Promise<MetadataAnswer>;
  listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }>;
  describeGroups(args: { groupIds: string[] }): Promise<{ groups: KafkajsGroup[] }>;
}
type KafkajsGroup = Awaited<ReturnType<Admin['describeGroups']>>['groups'][number];
/** The groups one coordinator holds. */
interface CoordinatorGroups {
  broker: GroupBroker;
  groupIds: string[];
}
interface GroupCluster {
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  brokerPool: { brokers: Record<string, unknown> };
  findBroker(args: { nodeId: string }): Promise<GroupBroker>;
  findGroupCoordinator(args: { groupId: string }): Promise<GroupBroker & { nodeId: number }>;
}

const require_ = createRequire(import.meta.url);
const kafkaErrors = require_('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

/** GROUP_ID_NOT_FOUND: ConsumerGroupDescribe's answer for a classic group or none at all. */
const GROUP_ID_NOT_FOUND = 69;
const UNSUPPORTED_VERSION = 35;
/** ListOffsets' timestamps for the log start and the log end; read committed, as kafkajs' admin. */
const EARLIEST = -2;
const LATEST = -1;
const READ_COMMITTED = 1;
/** Groups per FindCoordinator or OffsetFetch request. */
const KEYS_PER_REQUEST = 250;
/** kafkajs' one-group requests in flight at once, where a broker lacks the batched ones. */
const LOOKUPS_AT_ONCE = 16;

const supports = (b: GroupBroker, apiKey: number, version: number): boolean =>
  supportsVersion(b.versions, apiKey, version);

// ------------------------------------------------------------------ the reader

export class GroupReader {
  constructor(
    private readonly raw: RawKafka,
    private readonly admin: () => Promise<Admin>,
  ) {}

  private async cluster(): Promise<GroupCluster> {
    // The same kafkajs cluster RawKafka gives its Fetch and Produce, seen through what this file uses.
    return (await this.raw.connect([])) as unknown as GroupCluster;
  }

  /** Every group of every broker, with its type where the broker speaks ListGroups v5. */
  list(): Promise<ListedGroup[]> {
    return whileCoordinatorLoads(() => this.listOnce());
  }

  private async listOnce(): Promise<ListedGroup[]> {
    const cluster = await this.withCurrentBrokers();
    const perBroker = await Promise.all(
      Object.keys(cluster.brokerPool.brokers).map(async (nodeId) => {
        const broker = await cluster.findBroker({ nodeId });
        if (!supports(broker, LIST_GROUPS, 5))
          return (await broker.listGroups()).groups.map((g): ListedGroup => ({
            groupId: g.groupId,
            protocolType: g.protocolType,
            type: null,
            state: null,
          }));
        const r = (await broker.connectionPool.send(listGroupsV5())) as {
          errorCode: number;
          groups: ListedGroup[];
        };
        if (r.errorCode !== 0) throw kafkaErrors.createErrorFromCode(r.errorCode);
        return r.groups;
      }),
    );
    return perBroker.flat();
  }

  /**
   * The client, knowing every broker the cluster has now. A Metadata request for no topic names
   * the brokers only; a refresh asks for every topic the client has read (10,000 partitions
   * decoded on every 2 s refresh of lag --watch, the console, metrics), so the refresh is made
   * only when the brokers differ, or when the broker asked did not answer (a refresh asks each in
   * turn).
   */
  private async withCurrentBrokers(): Promise<GroupCluster> {
    const raw = await this.raw.connect([]);
    const cluster = raw as unknown as GroupCluster;
    const known = Object.keys(cluster.brokerPool.brokers);
    // RawKafka's brokers answer metadata([]) with Metadata v4 for no topic (kafka-raw.ts).
    const now = await brokerById(cluster)
      .then(async (b) => (await b.metadata([])).brokers.map((broker) => String(broker.nodeId)))
      .catch(() => null);
    if (now && now.length === known.length && now.every((id) => known.includes(id))) return cluster;
    return (await this.raw.refreshed(raw)) as unknown as GroupCluster;
  }

  /**
   * Each group as its own protocol describes it. `types` (from `list`) sends a classic group
   * straight to DescribeGroups; a group of unknown type is asked with ConsumerGroupDescribe
   * first where its coordinator has it, then with DescribeGroups if it is no consumer group.
   * A group that does not exist comes back Dead without members, as DescribeGroups says.
   */
  async describe(
    groupIds: string[],
    types: ReadonlyMap<string, string | null> = new Map(),
  ): Promise<Map<string, DescribedGroup>> {
    const out = new Map<string, DescribedGroup>();
    const maybeConsumer = groupIds.filter((g) => (types.get(g) ?? 'consumer') === 'consumer');
    for (const g of await this.describeConsumerGroups(maybeConsumer)) out.set(g.groupId, g);
    const classic = groupIds.filter((g) => !out.has(g));
    for (const d of await this.describeClassicGroups(classic)) out.set(d.groupId, d);
    return out;
  }

  /** The consumer-protocol groups among `groupIds`, one request per coordinator. */
  private describeConsumerGroups(groupIds: string[]): Promise<DescribedGroup[]> {
    if (groupIds.length === 0) return Promise.resolve([]);
    return whileCoordinatorLoads(() => this.describeConsumerGroupsOnce(groupIds));
  }

  private async describeConsumerGroupsOnce(groupIds: string[]): Promise<DescribedGroup[]> {
    const byCoordinator = (await this.coordinators(groupIds)).filter(({ broker }) =>
      supports(broker, CONSUMER_GROUP_DESCRIBE, 0),
    );
    const answers = await Promise.all(
      byCoordinator.map(
        async ({ broker, groupIds: ids }) =>
          (await broker.connectionPool.send(consumerGroupDescribeV0(ids))) as ConsumerGroupAnswer[],
      ),
    );
    return answers.flat().flatMap((a) => {
      if (a.errorCode === 0) return [a.group];
      // Not a consumer-protocol group (classic, or none), or a broker that has it switched off.
      if (a.errorCode === GROUP_ID_NOT_FOUND || a.errorCode === UNSUPPORTED_VERSION) return [];
      throw kafkaErrors.createErrorFromCode(a.errorCode);
    });
  }

  /** Classic groups with DescribeGroups, one request per coordinator. */
  private async describeClassicGroups(groupIds: string[]): Promise<DescribedGroup[]> {
    if (groupIds.length === 0) return [];
    const answers = await whileCoordinatorLoads(async () =>
      Promise.all(
        (await this.coordinators(groupIds)).map(
          async ({ broker, groupIds: ids }) => (await broker.describeGroups({ groupIds: ids })).groups,
        ),
      ),
    );
    return answers.flat().map((d) => ({
      groupId: d.groupId,
      protocol: 'classic',
      state: d.state,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        host: m.clientHost,
        memberEpoch: null,
        assignment: Object.entries(
          m.memberAssignment.length > 0
            ? (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {})
            : {},
        ).map(([topic, partitions]) => ({ topic, partitions })),
      })),
      groupEpoch: null,
      assignmentEpoch: null,
    }));
  }

  /**
   * The log-start and log-end offsets of `topics` (each existing one; a topic deleted since a group
   * committed to it has none): two ListOffsets per partition leader for all of them, where
   * kafkajs' admin.fetchTopicOffsets sends two per topic and refreshes the metadata for each.
   */
  async watermarks(topics: string[]): Promise<Map<string, Map<number, { low: number; high: number }>>> {
    const out = new Map<string, Map<number, { low: number; high: number }>>();
    if (topics.length === 0) return out;
    let wanted = topics;
    const connect = async (names: string[]) => (await this.raw.connect(names)) as unknown as GroupCluster;
    const existingOnly = async () => {
      const existing = await this.raw.existingTopics(wanted);
      wanted = wanted.filter((t) => existing.has(t));
    };
    let cluster = await connect(wanted).catch(async (e: unknown) => {
      if (!unknownTopic(e)) throw e;
      await existingOnly();
      return connect(wanted);
    });
    // A leader that moved (a broker restarting) answers NOT_LEADER, a topic deleted meanwhile
    // (another team's, a test's) UNKNOWN_TOPIC and spoils every later metadata refresh: the topics
    // that still exist, on a fresh client with new metadata, and again.
    await retry(
      async (attempt) => {
        if (attempt > 1) {
          await existingOnly();
          const stale = cluster as unknown as RawCluster;
          cluster = (await this.raw.reconnect(wanted, stale)) as unknown as GroupCluster;
        }
        out.clear();
        const byLeader = new Map<number, Map<string, number[]>>();
        for (const topic of wanted)
          for (const p of cluster.findTopicPartitionMetadata(topic)) {
            const topics = byLeader.get(p.leader) ?? new Map<string, number[]>();
            byLeader.set(p.leader, topics);
            const partitions = topics.get(topic) ?? [];
            topics.set(topic, partitions);
            partitions.push(p.partitionId);
          }
        await Promise.all(
          [...byLeader].flatMap(([nodeId, topics]) =>
            [EARLIEST, LATEST].map(async (timestamp) => {
              const broker = await brokerById(cluster, nodeId);
              const answer = (await broker.connectionPool.send(
                listOffsetsV2(READ_COMMITTED, timestamp, topics),
              )) as PartitionOffset[];
              const failed = answer.find((p) => p.errorCode !== 0);
              if (failed) throw kafkaErrors.createErrorFromCode(failed.errorCode);
              for (const p of answer) {
                let marks = out.get(p.topic);
                if (!marks) out.set(p.topic, (marks = new Map()));
                let w = marks.get(p.partition);
                if (!w) marks.set(p.partition, (w = { low: 0, high: 0 }));
                if (timestamp === EARLIEST) w.low = p.offset;
                else w.high = p.offset;
              }
            }),
          ),
        );
      },
      COORDINATOR_RETRY,
      { retriable: (e) => retriableFlag(e) === true },
    );
    return out;
  }

  /**
   * The groups by coordinator: one FindCoordinator v4 for all of them where the cluster speaks it
   * (kafkajs asks once per group, and asks again for every request it sends a group).
   */
  private async coordinators(groupIds: string[]): Promise<CoordinatorGroups[]> {
    const cluster = await this.cluster();
    const byNode = new Map<number, CoordinatorGroups>();
    const add = async (nodeId: number, groupId: string) => {
      let entry = byNode.get(nodeId);
      if (!entry) {
        entry = { broker: await brokerById(cluster, nodeId), groupIds: [] };
        byNode.set(nodeId, entry);
      }
      entry.groupIds.push(groupId);
    };
    const any = await brokerById(cluster);
    if (!supports(any, FIND_COORDINATOR, 4)) {
      const found = await mapLimit(groupIds, LOOKUPS_AT_ONCE, (groupId) =>
        cluster.findGroupCoordinator({ groupId }),
      );
      for (const [i, broker] of found.entries()) await add(broker.nodeId, groupIds[i] as string);
      return [...byNode.values()];
    }
    for (const ids of chunks(groupIds, KEYS_PER_REQUEST)) {
      const answers = (await any.connectionPool.send(findGroupCoordinatorsV4(ids))) as CoordinatorAnswer[];
      for (const a of answers) {
        if (a.errorCode !== 0) throw kafkaErrors.createErrorFromCode(a.errorCode);
        await add(a.nodeId, a.key);
      }
    }
    return [...byNode.values()];
  }

  /**
   * Each group's committed offsets, by group: one OffsetFetch v8 per coordinator for up to
   * KEYS_PER_REQUEST groups where the coordinator speaks it, else kafkajs' one per group.
   */
  offsets(groupIds: string[]): Promise<Map<string, GroupOffsets['topics']>> {
    if (groupIds.length === 0) return Promise.resolve(new Map());
    return whileCoordinatorLoads(() => this.offsetsOnce(groupIds));
  }

  private async offsetsOnce(groupIds: string[]): Promise<Map<string, GroupOffsets['topics']>> {
    const out = new Map<string, GroupOffsets['topics']>();
    const requests = (await this.coordinators(groupIds)).flatMap(({ broker, groupIds: ids }) =>
      chunks(ids, KEYS_PER_REQUEST).map((slice) => ({ broker, ids: slice })),
    );
    await Promise.all(
      requests.map(async ({ broker, ids }) => {
        if (!supports(broker, OFFSET_FETCH, 8)) {
          const admin = await this.admin();
          await mapLimit(ids, LOOKUPS_AT_ONCE, async (groupId) =>
            out.set(groupId, await admin.fetchOffsets({ groupId })),
          );
          return;
        }
        const answers = (await broker.connectionPool.send(offsetFetchV8(ids))) as GroupOffsets[];
        for (const a of answers) {
          const code = a.errorCode || a.partitionErrorCode;
          if (code !== 0) throw kafkaErrors.createErrorFromCode(code);
          out.set(a.groupId, a.topics);
        }
      }),
    );
    return out;
  }
}

/** kafka-raw.ts' brokerById, seen through what this file uses. */
const brokerById = async (cluster: GroupCluster, nodeId?: number): Promise<GroupBroker> =>
  (await rawBrokerById(cluster as unknown as RawCluster, nodeId)) as unknown as GroupBroker;

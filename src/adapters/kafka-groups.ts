import { createRequire } from 'node:module';
import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';
import { whileCoordinatorLoads } from './kafka.js';
import { RawKafka } from './kafka-fetch.js';

/**
 * Consumer groups of both protocols. Classic groups are described with DescribeGroups (kafkajs);
 * groups of the consumer protocol (KIP-848, GA in Kafka 4.0) are invisible to it and are
 * described with ConsumerGroupDescribe (API key 69), and ListGroups v5 says which protocol each
 * group speaks. kafkajs has neither request, so both are written here and sent through kafkajs'
 * broker connections (RawKafka), as kafka-produce.ts sends its Produce.
 */

/** The two protocols a consumer group can speak. */
export type GroupProtocol = 'classic' | 'consumer';

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** 'classic', 'consumer', 'share', 'streams'; null from a broker without ListGroups v5. */
  type: string | null;
  /** The group's state; null from a broker without ListGroups v4+. */
  state: string | null;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
  /** The member's epoch (consumer protocol); null for a classic member. */
  memberEpoch: number | null;
  /** The partitions the member holds now. */
  assignment: { topic: string; partitions: number[] }[];
}

export interface DescribedGroup {
  groupId: string;
  protocol: GroupProtocol;
  /** As the broker names it: Stable, Empty, Dead…; Assigning and Reconciling for consumer groups. */
  state: string;
  members: GroupMember[];
  /** Group and assignment epochs (consumer protocol); null for a classic group. */
  groupEpoch: number | null;
  assignmentEpoch: number | null;
}

/** The members of kafkajs' Broker this file uses (kafka-fetch.ts types the others). */
interface GroupBroker {
  versions: Record<number, { minVersion: number; maxVersion: number } | undefined> | null;
  connectionPool: { send(request: unknown): Promise<unknown> };
  listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }>;
}
interface GroupCluster {
  refreshMetadata(): Promise<void>;
  brokerPool: { brokers: Record<string, unknown> };
  findBroker(args: { nodeId: string }): Promise<GroupBroker>;
  findGroupCoordinator(args: { groupId: string }): Promise<GroupBroker & { nodeId: number }>;
}

const require_ = createRequire(import.meta.url);
const kafkaErrors = require_('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

const LIST_GROUPS = 16;
const CONSUMER_GROUP_DESCRIBE = 69;
/** GROUP_ID_NOT_FOUND: ConsumerGroupDescribe's answer for a classic group or none at all. */
const GROUP_ID_NOT_FOUND = 69;
const UNSUPPORTED_VERSION = 35;

const supports = (b: GroupBroker, apiKey: number, version: number): boolean => {
  const v = b.versions?.[apiKey];
  return v !== undefined && v.minVersion <= version && version <= v.maxVersion;
};

// ------------------------------------------------------------------ flexible-version wire format

/** Reads the compact (KIP-482) encoding: unsigned varints, compact strings and arrays, tagged fields. */
class WireReader {
  private o = 0;
  constructor(private readonly buf: Buffer) {}

  int8(): number {
    return this.buf.readInt8((this.o += 1) - 1);
  }
  int16(): number {
    return this.buf.readInt16BE((this.o += 2) - 2);
  }
  int32(): number {
    return this.buf.readInt32BE((this.o += 4) - 4);
  }
  uvarint(): number {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.buf[this.o++];
      if (b === undefined) throw new Error('truncated Kafka response');
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  }
  nullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    this.o += n - 1;
    return this.buf.toString('utf8', this.o - (n - 1), this.o);
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  array<T>(item: () => T): T[] {
    const n = this.uvarint();
    return Array.from({ length: Math.max(0, n - 1) }, item);
  }
  skip(bytes: number): void {
    this.o += bytes;
  }
  /** A tagged-field section: none of its fields are needed here. */
  tags(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

function uvarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function compactString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from(uvarint(b.length + 1)), b]);
}

/**
 * A flexible-version request for kafkajs' connection, which writes request header v1 (api key,
 * version, correlation id, client id) and then this payload: the payload starts with the empty
 * tagged fields that make it header v2. The response header v1 has tagged fields after the
 * correlation id, which kafkajs hands to `decode` with the body: `read` starts there.
 */
function flexibleRequest<T>(
  apiKey: number,
  apiVersion: number,
  apiName: string,
  body: Buffer,
  read: (r: WireReader) => T,
) {
  const payload = Buffer.concat([Buffer.from([0]), body]);
  return {
    request: {
      apiKey,
      apiVersion,
      apiName,
      expectResponse: () => true,
      encode: async () => ({ buf: payload, buffer: payload, size: () => payload.length }),
    },
    response: {
      decode: async (raw: Buffer) => {
        const r = new WireReader(raw);
        r.tags();
        return { value: read(r) };
      },
      parse: async (data: { value: T }) => data.value,
    },
  };
}

// ------------------------------------------------------------------ ListGroups v5 (KIP-848)

/**
 * ListGroups v5 (ListGroupsRequest.json / ListGroupsResponse.json, flexible from v3):
 *
 *   request:  StatesFilter  compact [] compact string   (empty: every state)
 *             TypesFilter   compact [] compact string   (empty: every type, each listed with it)
 *             tagged fields
 *   response: ThrottleTimeMs int32, ErrorCode int16,
 *             Groups compact [] { GroupId, ProtocolType, GroupState, GroupType: compact string;
 *                                 tagged fields }
 *             tagged fields
 */
function listGroupsV5() {
  const body = Buffer.from([1, 1, 0]);
  return flexibleRequest(LIST_GROUPS, 5, 'ListGroups', body, (r) => {
    r.int32();
    const errorCode = r.int16();
    const groups = r.array((): ListedGroup => {
      const g = { groupId: r.string(), protocolType: r.string(), state: r.string(), type: r.string() };
      r.tags();
      return g;
    });
    return { errorCode, groups };
  });
}

// ------------------------------------------------------------------ ConsumerGroupDescribe v0

interface ConsumerGroupAnswer {
  errorCode: number;
  group: DescribedGroup;
}

/**
 * ConsumerGroupDescribe v0 (ConsumerGroupDescribeRequest.json / …Response.json, flexible; as the
 * 3.9 and 4.x brokers' generated classes read it):
 *
 *   request:  GroupIds compact [] compact string, IncludeAuthorizedOperations bool, tagged fields
 *   response: ThrottleTimeMs int32,
 *             Groups compact [] {
 *               ErrorCode int16, ErrorMessage compact nullable string, GroupId compact string,
 *               GroupState compact string, GroupEpoch int32, AssignmentEpoch int32,
 *               AssignorName compact string,
 *               Members compact [] {
 *                 MemberId compact string, InstanceId, RackId compact nullable string,
 *                 MemberEpoch int32, ClientId, ClientHost compact string,
 *                 SubscribedTopicNames compact [] compact string,
 *                 SubscribedTopicRegex compact nullable string,
 *                 Assignment, TargetAssignment: Assignment, tagged fields }
 *               AuthorizedOperations int32, tagged fields }
 *             tagged fields
 *   Assignment: TopicPartitions compact [] { TopicId uuid (16 bytes), TopicName compact string,
 *               Partitions compact [] int32, tagged fields }, tagged fields
 */
function consumerGroupDescribeV0(groupIds: string[]) {
  const body = Buffer.concat([
    Buffer.from(uvarint(groupIds.length + 1)),
    ...groupIds.map(compactString),
    Buffer.from([0, 0]), // include authorized operations: false; tagged fields
  ]);
  const assignment = (r: WireReader) => {
    const topics = r.array(() => {
      r.skip(16);
      const t = { topic: r.string(), partitions: r.array(() => r.int32()) };
      r.tags();
      return t;
    });
    r.tags();
    return topics;
  };
  return flexibleRequest(CONSUMER_GROUP_DESCRIBE, 0, 'ConsumerGroupDescribe', body, (r) => {
    r.int32();
    return r.array((): ConsumerGroupAnswer => {
      const errorCode = r.int16();
      r.nullableString();
      const groupId = r.string();
      const state = r.string();
      const groupEpoch = r.int32();
      const assignmentEpoch = r.int32();
      r.string();
      const members = r.array((): GroupMember => {
        const memberId = r.string();
        r.nullableString();
        r.nullableString();
        const memberEpoch = r.int32();
        const clientId = r.string();
        const host = r.string();
        r.array(() => r.string());
        r.nullableString();
        const current = assignment(r);
        assignment(r);
        r.tags();
        return { memberId, clientId, host, memberEpoch, assignment: current };
      });
      r.int32();
      r.tags();
      return {
        errorCode,
        group: { groupId, protocol: 'consumer', state, members, groupEpoch, assignmentEpoch },
      };
    });
  });
}

// ------------------------------------------------------------------ the reader

export class GroupReader {
  private readonly raw: RawKafka;

  constructor(
    kafka: Kafka,
    private readonly admin: () => Promise<Admin>,
  ) {
    this.raw = new RawKafka(kafka);
  }

  private async cluster(): Promise<GroupCluster> {
    // The same kafkajs cluster RawKafka gives its Fetch and Produce, seen through what this file uses.
    return (await this.raw.connect([])) as unknown as GroupCluster;
  }

  /** Every group of every broker, with its type where the broker speaks ListGroups v5. */
  list(): Promise<ListedGroup[]> {
    return whileCoordinatorLoads(() => this.listOnce());
  }

  private async listOnce(): Promise<ListedGroup[]> {
    const cluster = await this.cluster();
    await cluster.refreshMetadata();
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
    if (classic.length > 0) {
      const { groups } = await (await this.admin()).describeGroups(classic);
      for (const d of groups)
        out.set(d.groupId, {
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
        });
    }
    return out;
  }

  /** The consumer-protocol groups among `groupIds`, one request per coordinator. */
  private describeConsumerGroups(groupIds: string[]): Promise<DescribedGroup[]> {
    if (groupIds.length === 0) return Promise.resolve([]);
    return whileCoordinatorLoads(() => this.describeConsumerGroupsOnce(groupIds));
  }

  private async describeConsumerGroupsOnce(groupIds: string[]): Promise<DescribedGroup[]> {
    const cluster = await this.cluster();
    const byCoordinator = new Map<number, { broker: GroupBroker; groupIds: string[] }>();
    for (const groupId of groupIds) {
      const broker = await cluster.findGroupCoordinator({ groupId });
      if (!supports(broker, CONSUMER_GROUP_DESCRIBE, 0)) continue;
      const entry = byCoordinator.get(broker.nodeId) ?? { broker, groupIds: [] };
      entry.groupIds.push(groupId);
      byCoordinator.set(broker.nodeId, entry);
    }
    const answers = await Promise.all(
      [...byCoordinator.values()].map(
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

  async close(): Promise<void> {
    await this.raw.close();
  }
}

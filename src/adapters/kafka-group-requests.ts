import { bytesRequest, compactArray, compactString, flexibleRequest, WireReader } from './kafka-wire.js';

/**
 * The group requests kafkajs 2.2 lacks or sends one group at a time, written for kafka-groups.ts:
 * FindCoordinator v4 (many keys in one request, KIP-699, Kafka 3.0+), OffsetFetch v8 (many groups
 * in one request, KIP-709, Kafka 3.3+), ListOffsets v2 in one buffer, and for groups of the
 * consumer protocol (KIP-848) ListGroups v5 (each group's type) and ConsumerGroupDescribe v0. All
 * are in Kafka 3.9 and 4.x; the group shapes the reader returns are here too.
 */

export const LIST_OFFSETS = 2;
export const FIND_COORDINATOR = 10;
export const OFFSET_FETCH = 9;
export const LIST_GROUPS = 16;
export const CONSUMER_GROUP_DESCRIBE = 69;

export interface CoordinatorAnswer {
  key: string;
  nodeId: number;
  errorCode: number;
}

/**
 * FindCoordinator v4 (FindCoordinatorRequest.json / …Response.json, flexible from v3):
 *
 *   request:  KeyType int8 (0: group), CoordinatorKeys compact [] compact string, tagged fields
 *   response: ThrottleTimeMs int32,
 *             Coordinators compact [] { Key compact string, NodeId int32, Host compact string,
 *                                       Port int32, ErrorCode int16,
 *                                       ErrorMessage compact nullable string, tagged fields }
 *             tagged fields
 */
export function findGroupCoordinatorsV4(groupIds: string[]) {
  const body = Buffer.concat([Buffer.from([0]), compactArray(groupIds, compactString), Buffer.from([0])]);
  return flexibleRequest(FIND_COORDINATOR, 4, 'FindCoordinator', body, (r) => {
    r.int32();
    return r.array((): CoordinatorAnswer => {
      const key = r.string();
      const nodeId = r.int32();
      r.string();
      r.int32();
      const errorCode = r.int16();
      r.nullableString();
      r.tags();
      return { key, nodeId, errorCode };
    });
  });
}

/** A group's committed offsets as kafkajs' fetchOffsets gives them (offset as text, -1 for none). */
export interface GroupOffsets {
  groupId: string;
  errorCode: number;
  /** The first partition-level error, 0 when none. */
  partitionErrorCode: number;
  topics: { topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[];
}

/**
 * OffsetFetch v8 (OffsetFetchRequest.json / …Response.json, flexible from v6):
 *
 *   request:  Groups compact [] { GroupId compact string,
 *                                 Topics compact nullable [] (null: every topic), tagged fields }
 *             RequireStable bool, tagged fields
 *   response: ThrottleTimeMs int32,
 *             Groups compact [] { GroupId compact string,
 *               Topics compact [] { Name compact string,
 *                 Partitions compact [] { PartitionIndex int32, CommittedOffset int64,
 *                   CommittedLeaderEpoch int32, Metadata compact nullable string, ErrorCode int16,
 *                   tagged fields } tagged fields }
 *               ErrorCode int16, tagged fields }
 *             tagged fields
 */
export function offsetFetchV8(groupIds: string[]) {
  const group = (g: string) => Buffer.concat([compactString(g), Buffer.from([0, 0])]);
  const body = Buffer.concat([compactArray(groupIds, group), Buffer.from([0, 0])]);
  return flexibleRequest(OFFSET_FETCH, 8, 'OffsetFetch', body, (r) => {
    r.int32();
    return r.array((): GroupOffsets => {
      const groupId = r.string();
      let partitionErrorCode = 0;
      const topics = r.array(() => {
        const topic = r.string();
        const partitions = r.array(() => {
          const partition = r.int32();
          const offset = r.int64();
          r.int32();
          const metadata = r.nullableString();
          const errorCode = r.int16();
          r.tags();
          if (errorCode !== 0 && partitionErrorCode === 0) partitionErrorCode = errorCode;
          return { partition, offset: String(offset), metadata };
        });
        r.tags();
        return { topic, partitions };
      });
      const errorCode = r.int16();
      r.tags();
      return { groupId, errorCode, partitionErrorCode, topics };
    });
  });
}

/** One partition's offset for a timestamp (-2 the log start, -1 the log end), as a number. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  errorCode: number;
  offset: number;
}

/**
 * ListOffsets v2 (ListOffsetsRequest.json / …Response.json, not flexible), for the watermarks a
 * lag snapshot reads on every refresh (20,000 partitions twice on a big cluster): kafkajs' encoder
 * grows its buffer by copying as each partition is written, and its decoder makes a string of
 * every offset. Here each way is one buffer, and offsets are numbers.
 *
 *   request:  ReplicaId int32, IsolationLevel int8,
 *             Topics [] { Name string, Partitions [] { PartitionIndex int32, Timestamp int64 } }
 *   response: ThrottleTimeMs int32,
 *             Topics [] { Name string, Partitions [] { PartitionIndex int32, ErrorCode int16,
 *                                                      Timestamp int64, Offset int64 } }
 */
export function listOffsetsV2(
  isolationLevel: number,
  timestamp: number,
  topics: ReadonlyMap<string, number[]>,
) {
  const names = [...topics].map(([t, ps]) => [Buffer.from(t, 'utf8'), ps] as const);
  const body = Buffer.alloc(names.reduce((n, [b, ps]) => n + 2 + b.length + 4 + 12 * ps.length, 9));
  let o = body.writeInt32BE(-1, 0); // replica id: a client
  o = body.writeInt8(isolationLevel, o);
  o = body.writeInt32BE(names.length, o);
  for (const [name, partitions] of names) {
    o = body.writeInt16BE(name.length, o);
    o += name.copy(body, o);
    o = body.writeInt32BE(partitions.length, o);
    for (const p of partitions) {
      o = body.writeInt32BE(p, o);
      // int64 as two halves: BigInt would allocate twice per partition.
      o = body.writeInt32BE(Math.floor(timestamp / 2 ** 32), o);
      o = body.writeUInt32BE(timestamp >>> 0, o);
    }
  }
  return {
    request: bytesRequest(LIST_OFFSETS, 2, 'ListOffsets', body),
    response: {
      decode: async (raw: Buffer): Promise<PartitionOffset[]> => {
        const r = new WireReader(raw);
        r.skip(4); // throttle time
        const out: PartitionOffset[] = [];
        for (let t = r.int32Count(); t > 0; t--) {
          const topic = r.int16String() ?? '';
          for (let p = r.int32Count(); p > 0; p--) {
            const partition = r.int32();
            const errorCode = r.int16();
            r.skip(8); // timestamp
            out.push({ topic, partition, errorCode, offset: r.int64() });
          }
        }
        return out;
      },
      parse: async (d: PartitionOffset[]) => d,
    },
  };
}

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
export function listGroupsV5() {
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

export interface ConsumerGroupAnswer {
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
export function consumerGroupDescribeV0(groupIds: string[]) {
  const body = Buffer.concat([
    compactArray(groupIds, compactString),
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

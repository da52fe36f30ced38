import { bytesRequest, compactArray, compactString, flexibleRequest, WireReader } from './kafka-wire.js';

/**
 * The batched group requests a lag snapshot of a thousand groups needs, which kafkajs 2.2 sends
 * one group at a time: FindCoordinator v4 (many keys in one request, KIP-699, Kafka 3.0+) and
 * OffsetFetch v8 (many groups in one request, KIP-709, Kafka 3.3+). Both are in Kafka 3.9 and 4.x.
 */

export const LIST_OFFSETS = 2;
export const FIND_COORDINATOR = 10;
export const OFFSET_FETCH = 9;

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

import { describe, expect, it } from 'vitest';
import { listOffsetsV2, type PartitionOffset } from '../../src/adapters/kafka-group-requests.js';
import { metadataV4, topicNamesV4 } from '../../src/adapters/kafka-raw.js';

// The Metadata and ListOffsets requests orderbus writes itself (kafkajs' encoders cannot ask for
// no topic, and allocate per partition), byte for byte against the Kafka protocol's layout.

const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
const str = (s: string | null) =>
  s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);

describe('Metadata v4', () => {
  it('names the topics asked, none for no topic, null for every topic; never creates one', async () => {
    const body = async (topics: string[] | null) => (await metadataV4(topics).request.encode()).buffer;
    expect(await body(['ab', 'c'])).toEqual(Buffer.concat([int32(2), str('ab'), str('c'), Buffer.from([0])]));
    expect(await body([])).toEqual(Buffer.concat([int32(0), Buffer.from([0])]));
    expect(await body(null)).toEqual(Buffer.concat([int32(-1), Buffer.from([0])]));
    expect(metadataV4([]).request).toMatchObject({ apiKey: 3, apiVersion: 4 });
  });

  it('reads each topic name and error over brokers, replicas and ISRs it does not decode', async () => {
    const partition = (id: number, replicas: number[]) =>
      Buffer.concat([
        int16(0),
        int32(id),
        int32(replicas[0] ?? -1),
        int32(replicas.length),
        ...replicas.map(int32),
        int32(replicas.length),
        ...replicas.map(int32),
      ]);
    const answer = Buffer.concat([
      int32(0), // throttle
      int32(2),
      int32(1),
      str('broker-1'),
      int32(9092),
      str(null),
      int32(2),
      str('broker-2'),
      int32(9092),
      str('rack-b'),
      str('cluster-id'),
      int32(1),
      int32(2),
      int16(0),
      str('orders'),
      Buffer.from([0]),
      int32(2),
      partition(0, [1, 2]),
      partition(1, [2, 1]),
      int16(3),
      str('gone'),
      Buffer.from([0]),
      int32(0),
    ]);
    expect(await topicNamesV4(answer)).toEqual([
      { topic: 'orders', errorCode: 0 },
      { topic: 'gone', errorCode: 3 },
    ]);
  });
});

describe('ListOffsets v2', () => {
  it('asks each partition for the timestamp, and reads offsets past 2^32 as numbers', async () => {
    const r = listOffsetsV2(
      1,
      -2,
      new Map([
        ['a', [0, 1]],
        ['bc', [5]],
      ]),
    );
    expect(r.request).toMatchObject({ apiKey: 2, apiVersion: 2 });
    expect((await r.request.encode()).buffer).toEqual(
      Buffer.concat([
        int32(-1),
        Buffer.from([1]),
        int32(2),
        str('a'),
        int32(2),
        int32(0),
        int64(-2n),
        int32(1),
        int64(-2n),
        str('bc'),
        int32(1),
        int32(5),
        int64(-2n),
      ]),
    );
    const at = Date.UTC(2026, 11, 2);
    expect((await listOffsetsV2(1, at, new Map([['a', [0]]])).request.encode()).buffer.subarray(-8)).toEqual(
      int64(BigInt(at)),
    );
    const answer = Buffer.concat([
      int32(0),
      int32(1),
      str('a'),
      int32(2),
      int32(0),
      int16(0),
      int64(-1n),
      int64(5_000_000_000n),
      int32(1),
      int16(6),
      int64(-1n),
      int64(-1n),
    ]);
    expect(await r.response.decode(answer)).toEqual<PartitionOffset[]>([
      { topic: 'a', partition: 0, errorCode: 0, offset: 5_000_000_000 },
      { topic: 'a', partition: 1, errorCode: 6, offset: -1 },
    ]);
  });
});

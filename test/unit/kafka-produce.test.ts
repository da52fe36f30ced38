import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c, encodeRecordBatch, type OutRecord } from '../../src/adapters/kafka-produce.js';

// kafkajs' own record-batch encoder and decoder: the reference our one-buffer encoder must match.
const require_ = createRequire(import.meta.url);
const Long = require_('kafkajs/src/utils/long') as { fromValue(v: string): unknown };
const { RecordBatch } = require_('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(o: object): Promise<{ buffer: Buffer }>;
};
const Record = require_('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
const Decoder = require_('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeBatch = require_('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: {
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    offset: string;
    headers: Record<string, Buffer>;
  }[];
}>;

const records: OutRecord[] = [
  {
    key: Buffer.from('order-1'),
    value: Buffer.from('{"a":1}'),
    timestamp: 1_764_000_000_000,
    headers: [
      ['event-type', 'order.placed'],
      [Buffer.from('bin'), Buffer.from([0, 255, 7])],
    ],
  },
  // earlier than the first record (a negative timestamp delta), no key, a header with no value
  { key: null, value: Buffer.alloc(300, 1), timestamp: 1_763_999_000_000, headers: [['h', null]] },
  // a delta beyond 32 bits (~50 days later), a tombstone, a multi-byte UTF-8 header
  { key: Buffer.from('k'), value: null, timestamp: 1_768_320_000_000, headers: [['ü', 'é€']] },
];
const id = { producerId: 4321n, producerEpoch: 3, baseSequence: 17 };

describe('crc32c', () => {
  it('matches the Castagnoli check value and kafkajs on an odd-sized buffer', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const crc32C = require_('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
    const b = Buffer.from(Array.from({ length: 1029 }, (_, i) => (i * 31) & 0xff));
    expect(crc32c(b)).toBe(crc32C(b) >>> 0);
    expect(crc32c(b, 5, 1000)).toBe(crc32C(b.subarray(5, 1000)) >>> 0);
  });
});

describe('encodeRecordBatch', () => {
  it('writes the bytes kafkajs writes for the same batch', async () => {
    // kafkajs cannot write a null header value, a negative timestamp delta or two records with
    // the same header name; compare on the records it can express
    const simple = [
      records[0] as OutRecord,
      { ...(records[2] as OutRecord), headers: [['x', 'y']] as const },
    ];
    const ours = encodeRecordBatch(simple, id);
    const first = simple[0]?.timestamp as number;
    const theirs = await RecordBatch({
      firstTimestamp: first,
      maxTimestamp: Math.max(...simple.map((r) => r.timestamp)),
      partitionLeaderEpoch: -1,
      lastOffsetDelta: simple.length - 1,
      producerId: Long.fromValue(String(id.producerId)),
      producerEpoch: id.producerEpoch,
      firstSequence: id.baseSequence,
      records: simple.map((r, i) =>
        Record({
          key: r.key,
          value: r.value,
          headers: Object.fromEntries(r.headers.map(([k, v]) => [String(k), v])),
          offsetDelta: i,
          timestampDelta: r.timestamp - first,
        }),
      ),
    });
    expect(ours.toString('hex')).toBe(theirs.buffer.toString('hex'));
  });

  it('decodes back to the same records, timestamps and headers', async () => {
    const buf = encodeRecordBatch(records, id);
    const batch = await decodeBatch(new Decoder(buf));
    expect(batch.producerId).toBe('4321');
    expect(batch.producerEpoch).toBe(3);
    expect(batch.firstSequence).toBe(17);
    expect(
      batch.records.map((r) => [r.key?.toString() ?? null, r.value?.length ?? null, Number(r.timestamp)]),
    ).toEqual([
      ['order-1', 7, 1_764_000_000_000],
      [null, 300, 1_763_999_000_000],
      ['k', null, 1_768_320_000_000],
    ]);
    expect(batch.records[0]?.headers['event-type']?.toString()).toBe('order.placed');
    expect([...(batch.records[0]?.headers.bin ?? [])]).toEqual([0, 255, 7]);
    expect(batch.records[2]?.headers['ü']?.toString()).toBe('é€');
    expect(buf.readBigInt64BE(35)).toBe(1_768_320_000_000n); // max timestamp
    expect(crc32c(buf, 21)).toBe(buf.readUInt32BE(17));
  });

  it('writes a repeated header name once per value, in order and byte for byte', async () => {
    const rec: OutRecord = {
      key: null,
      value: Buffer.from('v'),
      timestamp: 1_764_000_000_000,
      headers: [
        ['trace', Buffer.from([0xff, 0xfe, 0x00])],
        ['trace', Buffer.from([0xc3, 0x28])],
        ['other', 'x'],
      ],
    };
    const batch = await decodeBatch(new Decoder(encodeRecordBatch([rec], id)));
    const trace = batch.records[0]?.headers.trace as unknown as Buffer[];
    expect(trace.map((b) => b.toString('hex'))).toEqual(['fffe00', 'c328']);
  });

  it('refuses an empty batch', () => {
    expect(() => encodeRecordBatch([], id)).toThrow(/at least one record/);
  });
});

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeFetchV11, timestampAt } from '../../src/adapters/kafka-batch-headers.js';
import { encodeRecordBatch } from '../../src/adapters/kafka-produce.js';

const ID = { producerId: -1n, producerEpoch: -1, baseSequence: -1 };
const T0 = 1_700_000_000_000;

interface BatchOptions {
  /** Offsets of the records (default base, base+1, ...): a gap is what compaction leaves. */
  deltas?: number[];
  gzip?: boolean;
  /** Compression codec bits (1 gzip, 2 snappy...), without compressing. */
  codec?: number;
  logAppendTime?: number;
  control?: boolean;
}

/**
 * A record batch at `base` of `n` records whose timestamps are T0 + 1000 × offset, written by the
 * raw producer's encoder and then given its offsets and attributes.
 */
function batch(base: number, n: number, o: BatchOptions = {}): Buffer {
  const records = Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`k${i}`),
    // Values that compress as real ones do (gzip needs its tables before it inflates anything).
    value: Buffer.from(
      createHash('sha256')
        .update(`${base + i}`)
        .digest('hex'),
    ),
    timestamp: T0 + 1000 * (base + (o.deltas?.[i] ?? i)),
    headers: [],
  }));
  let b = encodeRecordBatch(records, ID);
  if (o.deltas) b = withOffsetDeltas(b, o.deltas);
  if (o.gzip) {
    const packed = gzipSync(b.subarray(61));
    b = Buffer.concat([b.subarray(0, 61), packed]);
    b.writeInt32BE(b.length - 12, 8);
  }
  b.writeBigInt64BE(BigInt(base), 0);
  let attributes = (o.gzip ? 1 : (o.codec ?? 0)) | (o.control ? 0x30 : 0);
  if (o.logAppendTime !== undefined) {
    attributes |= 0x08;
    b.writeBigInt64BE(BigInt(o.logAppendTime), 35);
  }
  b.writeInt16BE(attributes, 21);
  return b;
}

/** Rewrites each record's offsetDelta (one byte: deltas < 64) and the batch's lastOffsetDelta. */
function withOffsetDeltas(b: Buffer, deltas: number[]): Buffer {
  /** The end of the varint at `at`. */
  const skip = (at: number) => {
    while ((b[at] as number) & 0x80) at++;
    return at + 1;
  };
  let o = 61;
  for (const d of deltas) {
    const start = skip(o);
    const length = zigzagLength(b, o);
    // attributes, timestampDelta (a varlong), then offsetDelta
    b[skip(start + 1)] = d * 2;
    o = start + length;
  }
  b.writeInt32BE(deltas[deltas.length - 1] as number, 23);
  return b;
}

/** A record's length (a zigzag varint) at `at`. */
function zigzagLength(b: Buffer, at: number): number {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const x = b[at++] as number;
    v += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) return v / 2;
  }
}

/** A last stable offset past every batch here. */
const LSO = 10_000;
const ts = (offset: number) => ({ kind: 'timestamp', timestamp: T0 + 1000 * offset });

describe('timestampAt: the record at an offset from record-batch bytes', () => {
  it('finds a record in the middle of an uncompressed batch, and in the batch after', () => {
    const bytes = Buffer.concat([batch(100, 50), batch(150, 50)]);
    expect(timestampAt(bytes, 100, LSO)).toEqual(ts(100));
    expect(timestampAt(bytes, 137, LSO)).toEqual(ts(137));
    expect(timestampAt(bytes, 149, LSO)).toEqual(ts(149));
    expect(timestampAt(bytes, 163, LSO)).toEqual(ts(163));
    // Past every batch returned: fetch again from there.
    expect(timestampAt(bytes, 200, LSO)).toEqual({ kind: 'later' });
  });

  it('asks for the whole batch when the bytes end before the record (cut mid-record)', () => {
    const whole = batch(100, 50);
    const cut = whole.subarray(0, 61 + 7 * 75 + 30); // seven records of ~75 bytes and part of the next
    expect(timestampAt(cut, 101, LSO)).toEqual(ts(101));
    expect(timestampAt(cut, 130, LSO)).toEqual({ kind: 'wider', bytes: whole.length });
    // Cut inside the batch header: nothing known of it.
    expect(timestampAt(whole.subarray(0, 40), 100, LSO)).toEqual({ kind: 'later' });
  });

  it('reads a gzip batch as far as its bytes inflate; another codec is left to the full decode', () => {
    const gz = batch(200, 50, { gzip: true });
    expect(timestampAt(gz, 200, LSO)).toEqual(ts(200));
    expect(timestampAt(gz, 241, LSO)).toEqual(ts(241));
    // The compressed bytes cut short: the first record still inflates; a later one needs the batch.
    const cut = gz.subarray(0, 61 + 160);
    expect(timestampAt(cut, 200, LSO)).toEqual(ts(200));
    expect(timestampAt(cut, 241, LSO)).toEqual({ kind: 'wider', bytes: gz.length });
    expect(timestampAt(gz.subarray(0, 61 + 5), 200, LSO)).toEqual({ kind: 'wider', bytes: gz.length });
    expect(timestampAt(batch(200, 50, { codec: 2 }), 200, LSO)).toEqual({ kind: 'exact' });
  });

  it('gives a LogAppendTime batch its maxTimestamp, even with the records cut off', () => {
    const appended = T0 + 5_000_000;
    const b = batch(300, 50, { logAppendTime: appended });
    expect(timestampAt(b.subarray(0, 61), 330, LSO)).toEqual({ kind: 'timestamp', timestamp: appended });
    expect(timestampAt(b, 300, LSO)).toEqual({ kind: 'timestamp', timestamp: appended });
  });

  it('skips control batches (transaction markers) to the next record', () => {
    const bytes = Buffer.concat([batch(400, 3), batch(403, 1, { control: true }), batch(404, 5)]);
    expect(timestampAt(bytes, 402, LSO)).toEqual(ts(402));
    expect(timestampAt(bytes, 403, LSO)).toEqual(ts(404));
    // A marker and nothing after it in these bytes: the end of the log only when it is the last.
    expect(timestampAt(batch(403, 1, { control: true }), 403, LSO)).toEqual({ kind: 'later' });
    expect(timestampAt(batch(403, 1, { control: true }), 403, 404)).toEqual({ kind: 'end' });
  });

  it('answers a probe before a batch (a compaction gap) or inside one with the next record there', () => {
    const compacted = batch(500, 4, { deltas: [0, 3, 7, 9] }); // offsets 500, 503, 507, 509
    expect(timestampAt(compacted, 490, LSO)).toEqual(ts(500));
    expect(timestampAt(compacted, 504, LSO)).toEqual(ts(507));
    // LogAppendTime with a gap in the batch: found through the records, still maxTimestamp.
    const appended = T0 + 9_000_000;
    const b = batch(500, 4, { deltas: [0, 3, 7, 9], logAppendTime: appended });
    expect(timestampAt(b, 504, LSO)).toEqual({ kind: 'timestamp', timestamp: appended });
  });

  it('reads empty bytes as the end of the log at the last stable offset, else as a batch too large', () => {
    expect(timestampAt(Buffer.alloc(0), 600, 600)).toEqual({ kind: 'end' });
    expect(timestampAt(Buffer.alloc(0), 600, 601)).toEqual({ kind: 'wider' });
  });

  it('leaves an old message format (magic 1) to the full decode', () => {
    const b = Buffer.from(batch(700, 2));
    b.writeInt8(1, 16);
    expect(timestampAt(b, 700, LSO)).toEqual({ kind: 'exact' });
  });
});

describe('decodeFetchV11', () => {
  it("keeps each partition's error, last stable offset and record bytes", () => {
    const records = batch(0, 3);
    const topic = Buffer.from('t.orders');
    const head = Buffer.alloc(4 + 2 + 4 + 4 + 2 + topic.length + 4);
    let o = head.writeInt32BE(0, 0);
    o = head.writeInt16BE(0, o);
    o = head.writeInt32BE(0, o);
    o = head.writeInt32BE(1, o);
    o = head.writeInt16BE(topic.length, o);
    o += topic.copy(head, o);
    head.writeInt32BE(2, o);
    const part = (partition: number, error: number, lso: number, aborted: number, bytes: Buffer | null) => {
      const p = Buffer.alloc(4 + 2 + 8 + 8 + 8 + 4 + aborted * 16 + 4 + 4);
      let q = p.writeInt32BE(partition, 0);
      q = p.writeInt16BE(error, q);
      q = p.writeBigInt64BE(BigInt(lso + 5), q);
      q = p.writeBigInt64BE(BigInt(lso), q);
      q = p.writeBigInt64BE(0n, q);
      q = p.writeInt32BE(aborted, q);
      q += aborted * 16;
      q = p.writeInt32BE(-1, q);
      p.writeInt32BE(bytes ? bytes.length : -1, q);
      return bytes ? Buffer.concat([p, bytes]) : p;
    };
    const raw = Buffer.concat([head, part(3, 0, 42, 2, records), part(4, 6, -1, 0, null)]);
    const got = decodeFetchV11(raw);
    expect(got.get('t.orders/3')).toEqual({ errorCode: 0, lastStableOffset: 42, records });
    expect(got.get('t.orders/4')).toEqual({ errorCode: 6, lastStableOffset: -1, records: Buffer.alloc(0) });
  });
});

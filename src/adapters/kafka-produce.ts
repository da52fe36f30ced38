import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { OrderbusError } from '../errors.js';
import { retriableFlag, retry, type RetryPolicy } from '../retry.js';
import { RawKafka, type RawBroker, type RawCluster } from './kafka-raw.js';
import { bytesRequest } from './kafka-wire.js';

/**
 * Bulk appends with record batches encoded here, one buffer per batch, sent as raw Produce
 * requests through kafkajs' broker connections. kafkajs' producer encodes each record and each
 * header into an Encoder and Buffer of its own and groups a send's messages by partition in
 * quadratic time: copying a topic (replay) spent most of its CPU there. The producer is
 * idempotent (a producer id, a sequence per partition): a batch resent after a lost answer is
 * written once.
 */

/** A header value: text is written as UTF-8. */
export type HeaderValue = string | Buffer;

export interface OutRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** CreateTime, ms. */
  timestamp: number;
  /** In order; a name may repeat (each value is written as its own header, as Kafka allows). */
  headers: readonly (readonly [HeaderValue, HeaderValue | null])[];
}

export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

// ------------------------------------------------------------------ CRC-32C (Castagnoli)

const CRC_TABLE = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++)
    for (let s = 1; s < 8; s++) {
      const prev = t[(s - 1) * 256 + i] as number;
      t[s * 256 + i] = ((prev >>> 8) ^ (t[prev & 0xff] as number)) >>> 0;
    }
  return t;
})();

/** CRC-32C of buf[start, end), slicing by 8. */
export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  const t = CRC_TABLE;
  let crc = ~0;
  let i = start;
  for (; end - i >= 8; i += 8) {
    crc ^=
      (buf[i] as number) |
      ((buf[i + 1] as number) << 8) |
      ((buf[i + 2] as number) << 16) |
      ((buf[i + 3] as number) << 24);
    crc =
      (t[1792 + (crc & 0xff)] as number) ^
      (t[1536 + ((crc >>> 8) & 0xff)] as number) ^
      (t[1280 + ((crc >>> 16) & 0xff)] as number) ^
      (t[1024 + (crc >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
  }
  for (; i < end; i++) crc = (t[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ------------------------------------------------------------------ record batch (magic 2)

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeUvarint(buf: Buffer, off: number, v: number): number {
  while (v >= 128) {
    buf[off++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

function byteLength(v: HeaderValue): number {
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** Bytes of a nullable field: its varint length (-1 for null) and the bytes. */
function fieldSize(v: HeaderValue | null): number {
  if (v === null) return 1;
  const n = byteLength(v);
  return uvarintSize(zigzag(n)) + n;
}

function writeField(buf: Buffer, off: number, v: HeaderValue | null): number {
  if (v === null) return writeUvarint(buf, off, 1); // zigzag(-1)
  if (typeof v === 'string') {
    const n = Buffer.byteLength(v);
    off = writeUvarint(buf, off, zigzag(n));
    return off + buf.write(v, off, 'utf8');
  }
  off = writeUvarint(buf, off, zigzag(v.length));
  return off + v.copy(buf, off);
}

const BATCH_HEADER = 61;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

function writeInt64(buf: Buffer, off: number, v: number): void {
  buf.writeBigInt64BE(BigInt(v), off);
}

/**
 * One uncompressed record batch (magic 2, CreateTime) holding `records` in order, with offset
 * deltas 0..n-1 and each record's own timestamp.
 */
export function encodeRecordBatch(records: readonly OutRecord[], id: BatchIdentity): Buffer {
  if (records.length === 0) throw new Error('a record batch needs at least one record');
  const first = records[0] as OutRecord;
  const base = first.timestamp;
  let max = base;
  const bodies = new Array<number>(records.length);
  let total = BATCH_HEADER;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OutRecord;
    if (r.timestamp > max) max = r.timestamp;
    let body = 1 + uvarintSize(zigzag(r.timestamp - base)) + uvarintSize(zigzag(i));
    body += fieldSize(r.key) + fieldSize(r.value) + uvarintSize(zigzag(r.headers.length));
    for (const [k, v] of r.headers) body += fieldSize(k) + fieldSize(v);
    bodies[i] = body;
    total += uvarintSize(zigzag(body)) + body;
  }
  const buf = Buffer.allocUnsafe(total);
  writeInt64(buf, 0, 0); // base offset (the broker assigns)
  buf.writeInt32BE(total - 12, 8); // batch length: after base offset and this field
  buf.writeInt32BE(-1, 12); // partition leader epoch
  buf.writeInt8(2, 16); // magic
  buf.writeInt16BE(0, ATTRIBUTES_AT); // no compression, CreateTime, not transactional
  buf.writeInt32BE(records.length - 1, 23); // last offset delta
  writeInt64(buf, 27, base);
  writeInt64(buf, 35, max);
  buf.writeBigInt64BE(id.producerId, 43);
  buf.writeInt16BE(id.producerEpoch, 51);
  buf.writeInt32BE(id.baseSequence, 53);
  buf.writeInt32BE(records.length, 57);
  let off = BATCH_HEADER;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OutRecord;
    off = writeUvarint(buf, off, zigzag(bodies[i] as number));
    buf[off++] = 0; // record attributes
    off = writeUvarint(buf, off, zigzag(r.timestamp - base));
    off = writeUvarint(buf, off, zigzag(i));
    off = writeField(buf, off, r.key);
    off = writeField(buf, off, r.value);
    off = writeUvarint(buf, off, zigzag(r.headers.length));
    for (const [k, v] of r.headers) {
      off = writeField(buf, off, k);
      off = writeField(buf, off, v);
    }
  }
  if (off !== total) throw new Error(`record batch encoding wrote ${off} of ${total} bytes`);
  buf.writeUInt32BE(crc32c(buf, ATTRIBUTES_AT, total), CRC_AT);
  return buf;
}

/** Bytes `encodeRecordBatch` would spend on one record, near enough to cut batches by size. */
export function approxRecordBytes(r: OutRecord): number {
  let n = 24 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const [k, v] of r.headers) n += 6 + k.length + (v === null ? 0 : v.length);
  return n;
}

// ------------------------------------------------------------------ raw Produce (v3)

const require_ = createRequire(import.meta.url);
const kafkaErrors = require_('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

interface PartitionResult {
  partition: number;
  errorCode: number;
  baseOffset: bigint;
}

/** Produce v3: transactional id, acks, timeout, one topic with one partition's record set. */
function produceRequest(topic: string, partition: number, batch: Buffer, timeoutMs: number) {
  const name = Buffer.from(topic);
  const head = Buffer.allocUnsafe(2 + 2 + 4 + 4 + 2 + name.length + 4 + 4 + 4);
  let o = 0;
  o = head.writeInt16BE(-1, o); // transactional id: null
  o = head.writeInt16BE(-1, o); // acks: all in-sync replicas
  o = head.writeInt32BE(timeoutMs, o);
  o = head.writeInt32BE(1, o); // topics
  o = head.writeInt16BE(name.length, o);
  o += name.copy(head, o);
  o = head.writeInt32BE(1, o); // partitions
  o = head.writeInt32BE(partition, o);
  head.writeInt32BE(batch.length, o);
  const payload = Buffer.concat([head, batch]);
  return {
    request: bytesRequest(0, 3, 'Produce', payload),
    response: {
      decode: async (raw: Buffer) => decodeProduceResponse(raw),
      parse: async (data: unknown) => data,
    },
  };
}

function decodeProduceResponse(raw: Buffer): PartitionResult[] {
  const out: PartitionResult[] = [];
  let o = 0;
  const topics = raw.readInt32BE(o);
  o += 4;
  for (let t = 0; t < topics; t++) {
    o += 2 + raw.readInt16BE(o);
    const parts = raw.readInt32BE(o);
    o += 4;
    for (let p = 0; p < parts; p++) {
      out.push({
        partition: raw.readInt32BE(o),
        errorCode: raw.readInt16BE(o + 4),
        baseOffset: raw.readBigInt64BE(o + 6),
      });
      o += 4 + 2 + 8 + 8;
    }
  }
  return out;
}

/** Kafka's DUPLICATE_SEQUENCE_NUMBER: the batch was already written (a resend after a lost answer). */
const DUPLICATE_SEQUENCE = 46;
/** Sequence numbers wrap to 0 after Integer.MAX_VALUE. */
const SEQUENCE_WRAP = 2 ** 31;

/**
 * A batch's sends: 6 attempts, 200 ms doubling to 1 s between them (3.4 s of pauses in all), time
 * for a leader election after a broker died. One process sends: no jitter needed.
 */
export const PRODUCE_RETRY: RetryPolicy = { initialMs: 200, maxMs: 1000, maxAttempts: 6 };

/**
 * Appends encoded batches to partition leaders. One send at a time per partition (the sequence
 * of the next batch depends on this one); different partitions may send concurrently. A
 * retriable failure (leader moved, not enough replicas, dropped connection, timeout) resends the
 * same bytes — the broker drops a duplicate by its sequence number.
 */
export class BatchProducer {
  private readonly raw: RawKafka;
  private identity: Promise<{ producerId: bigint; producerEpoch: number }> | undefined;
  private readonly sequences = new Map<string, number>();

  constructor(
    kafka: Kafka,
    private readonly timeoutMs = 30_000,
    private readonly policy: RetryPolicy = PRODUCE_RETRY,
  ) {
    this.raw = new RawKafka(kafka);
  }

  private async producerIdentity(
    cluster: RawCluster,
    topic: string,
  ): Promise<{ producerId: bigint; producerEpoch: number }> {
    this.identity ??= (async () => {
      const broker = await cluster.findBroker({ nodeId: await this.raw.leaderId(cluster, topic, 0) });
      const r = await broker.initProducerId({ transactionTimeout: this.timeoutMs });
      return { producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch };
    })();
    this.identity.catch(() => (this.identity = undefined));
    return this.identity;
  }

  /** Appends `records` to topic/partition as one batch; resolves once every in-sync replica has it. */
  async send(topic: string, partition: number, records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const key = `${topic}/${partition}`;
    const sequence = this.sequences.get(key) ?? 0;
    let batch: Buffer | undefined;
    await retry(
      async (attempt) => {
        // A retry asks for the partition's leader again (it may have moved since).
        if (attempt > 1) {
          const fresh = await this.raw.connect([topic]).catch(() => undefined);
          await fresh?.refreshMetadata().catch(() => undefined);
        }
        const cluster = await this.raw.connect([topic]);
        const id = await this.producerIdentity(cluster, topic);
        batch ??= encodeRecordBatch(records, { ...id, baseSequence: sequence });
        const broker: RawBroker = await cluster.findBroker({
          nodeId: await this.raw.leaderId(cluster, topic, partition),
        });
        const results = (await broker.connectionPool.send(
          produceRequest(topic, partition, batch, this.timeoutMs),
        )) as PartitionResult[];
        const code = results.find((r) => r.partition === partition)?.errorCode;
        if (code === undefined)
          throw new OrderbusError('KAFKA_PRODUCE', `the broker did not answer for ${key}`, {
            retriable: true,
          });
        if (code !== 0 && code !== DUPLICATE_SEQUENCE) throw kafkaErrors.createErrorFromCode(code);
        this.sequences.set(key, (sequence + records.length) % SEQUENCE_WRAP);
      },
      this.policy,
      // Only what says it is retriable (kafkajs' protocol and connection errors, ours above).
      { retriable: (e) => retriableFlag(e) === true },
    );
  }

  async close(): Promise<void> {
    await this.raw.close();
  }
}

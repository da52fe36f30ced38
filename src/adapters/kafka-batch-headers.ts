import { createRequire } from 'node:module';
import { constants, gunzipSync } from 'node:zlib';
import { retriableFlag, retry, type RetryPolicy } from '../retry.js';
import { fetchConnectionReady } from './kafka-raw.js';

/**
 * Record timestamps read from record-batch headers (and the record headers up to the one
 * wanted), for time lag: a raw Fetch whose bytes are walked, not decoded — kafkajs' decode of every
 * key, value and header was all of lag's time on 10,000 partitions. A batch cut short at the end of
 * a partition's bytes (which kafkajs drops) still answers up to where it is cut. A Fetch v3+ never
 * returns a partition's *first* batch cut short: the broker sends nothing instead (ReplicaManager:
 * "we replace incomplete message sets with an empty one"), except for the first partition of a
 * response, which gets that batch whole — so a partition's bytes are asked to hold its first batch,
 * and a header-only read of a larger batch is impossible. What these bytes cannot answer exactly
 * is left to the full decode (kafka-fetch.ts).
 *
 * Record batch, magic 2 (Kafka's DefaultRecordBatch), 61 bytes before its records:
 *   baseOffset int64 | batchLength int32 (bytes after this field) | partitionLeaderEpoch int32 |
 *   magic int8 | crc int32 | attributes int16 (bits 0-2 compression, 3 LogAppendTime,
 *   4 transactional, 5 control) | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
 *   producerId int64 | producerEpoch int16 | baseSequence int32 | recordsCount int32
 * Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | ...
 */

/** What a partition's fetched bytes say about the first non-control record at or after an offset. */
export type BatchAnswer =
  | { kind: 'timestamp'; timestamp: number }
  /** Nothing at or after the offset (the fetch returned no bytes below the end of the log). */
  | { kind: 'end' }
  /** Its batch was cut before the record (fetch `bytes`, the batch, from the offset), or none came. */
  | { kind: 'wider'; bytes?: number }
  /** The bytes end before its batch begins: fetch again from the offset. */
  | { kind: 'later' }
  /** Only the full decode can tell (a codec other than gzip, an old message format). */
  | { kind: 'exact' };

const HEADER = 61;
const GZIP = 1;

/** The signed (zigzag) varint or varlong at `o` and the offset after it; undefined when the bytes end first. */
function varintAt(buf: Buffer, o: number): { value: number; next: number } | undefined {
  let v = 0;
  for (let shift = 0; o < buf.length && shift < 63; shift += 7) {
    const b = buf[o++] as number;
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { value: v % 2 === 0 ? v / 2 : -(v + 1) / 2, next: o };
  }
  return undefined;
}

/**
 * The first of `count` records in `records` (a batch's record bytes, maybe cut short) whose offset
 * delta is at least `delta`: its timestamp delta, 'next' when every record there is before it,
 * 'cut' when the bytes end first.
 */
function walkRecords(records: Buffer, count: number, delta: number): number | 'next' | 'cut' {
  let o = 0;
  for (let i = 0; i < count; i++) {
    const length = varintAt(records, o);
    if (!length) return 'cut';
    const end = length.next + length.value;
    // attributes int8, then timestampDelta and offsetDelta: all a record needs to be placed.
    const timestampDelta = varintAt(records, length.next + 1);
    const offsetDelta = timestampDelta && varintAt(records, timestampDelta.next);
    if (!timestampDelta || !offsetDelta || offsetDelta.next > end) return 'cut';
    if (offsetDelta.value >= delta) return timestampDelta.value;
    o = end;
  }
  return 'next';
}

/** A gzip payload cut anywhere: what inflates of it (empty when not even its header came). */
function gunzipPrefix(bytes: Buffer): Buffer {
  try {
    return gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * The timestamp of the first non-control record at or after `offset` in `bytes`, a read-committed
 * fetch's record set from `offset`'s batch, with its partition's last stable offset: a consumer
 * reads nothing from there on, so bytes ending there mean no such record. Empty bytes below it
 * mean the first batch did not fit.
 */
export function timestampAt(bytes: Buffer, offset: number, lastStable: number): BatchAnswer {
  let next = offset; // the offset after the last whole batch walked
  for (let o = 0; o + HEADER <= bytes.length;) {
    const base = Number(bytes.readBigInt64BE(o));
    const size = 12 + bytes.readInt32BE(o + 8);
    if (bytes.readInt8(o + 16) !== 2 || size < HEADER) return { kind: 'exact' };
    const attributes = bytes.readInt16BE(o + 21);
    const lastOffset = base + bytes.readInt32BE(o + 23);
    o += size;
    if (lastOffset < offset || (attributes & 0x20) !== 0) {
      if (o <= bytes.length) next = lastOffset + 1; // skipped: before the offset, or a control batch
      continue;
    }
    const at = o - size;
    const maxTimestamp = Number(bytes.readBigInt64BE(at + 35));
    const logAppendTime = (attributes & 0x08) !== 0;
    const count = bytes.readInt32BE(at + 57);
    // Every offset up to the last one is there (no compaction gap): the record exists, and in
    // LogAppendTime every record carries the batch's maxTimestamp.
    if (logAppendTime && count === lastOffset - base + 1)
      return { kind: 'timestamp', timestamp: maxTimestamp };
    const codec = attributes & 0x07;
    if (codec !== 0 && codec !== GZIP) return { kind: 'exact' };
    const payload = bytes.subarray(at + HEADER, Math.min(o, bytes.length));
    const found = walkRecords(codec === GZIP ? gunzipPrefix(payload) : payload, count, offset - base);
    const baseTimestamp = Number(bytes.readBigInt64BE(at + 27));
    if (typeof found === 'number')
      return { kind: 'timestamp', timestamp: logAppendTime ? maxTimestamp : baseTimestamp + found };
    if (found === 'cut') return o > bytes.length ? { kind: 'wider', bytes: size } : { kind: 'exact' };
    next = lastOffset + 1;
  }
  if (next >= lastStable) return { kind: 'end' };
  return bytes.length === 0 ? { kind: 'wider' } : { kind: 'later' };
}

// ------------------------------------------------------------------ raw Fetch (v11)

/** A record wanted: the first non-control one at or after `offset`. */
interface Probe {
  topic: string;
  partition: number;
  offset: number;
}
/** A partition fetched from a probe's offset, with its max_bytes. */
type Wanted = Probe & { bytes: number };

/** kafkajs' cluster as kafka-raw.ts' RawKafka reaches it (the members used here). */
interface LeaderCluster {
  findBroker(args: { nodeId: string }): Promise<{ connectionPool: { send(r: object): Promise<unknown> } }>;
}
export interface LeaderClient<C extends LeaderCluster> {
  connect(topics: string[]): Promise<C>;
  /** A fresh client in place of `stale` (the one a failed request used): current metadata. */
  reconnect(topics: string[], stale: C): Promise<C>;
  leaderId(cluster: C, topic: string, partition: number): Promise<string>;
}

const require_ = createRequire(import.meta.url);
/** kafkajs' own Fetch v11 request encoder (non-flexible; Kafka 3.x and 4.x accept it). */
const fetchV11 = require_('kafkajs/src/protocol/requests/fetch/v11/request') as (args: object) => object;

interface FetchedPartition {
  errorCode: number;
  lastStableOffset: number;
  records: Buffer;
}

/** Fetch v11's response, keeping each partition's record bytes as they came. */
export function decodeFetchV11(raw: Buffer): Map<string, FetchedPartition> {
  const out = new Map<string, FetchedPartition>();
  let o = 4 + 2 + 4; // throttle_time_ms, error_code, session_id
  for (let topics = raw.readInt32BE((o += 4) - 4); topics > 0; topics--) {
    const topic = raw.toString('utf8', o + 2, (o += 2 + raw.readInt16BE(o)));
    for (let parts = raw.readInt32BE((o += 4) - 4); parts > 0; parts--) {
      const partition = raw.readInt32BE(o);
      const errorCode = raw.readInt16BE(o + 4);
      const lastStableOffset = Number(raw.readBigInt64BE(o + 14)); // after the high watermark
      o += 6 + 8 + 8 + 8; // ..., last stable offset, log start offset
      const aborted = raw.readInt32BE((o += 4) - 4);
      o += Math.max(0, aborted) * 16 + 4; // (producer id, first offset) each; preferred read replica
      const n = raw.readInt32BE((o += 4) - 4);
      const records = n > 0 ? raw.subarray(o, (o += n)) : Buffer.alloc(0);
      out.set(`${topic}/${partition}`, { errorCode, lastStableOffset, records });
    }
  }
  return out;
}

/** Bytes asked per partition at first: a producer's default batch (Java's batch.size) fits. */
const HEADER_FETCH_BYTES = 16 * 1024;
/** Bytes asked for a larger batch (what the full decode asks per partition); beyond, the full decode. */
const WIDEST_HEADER_FETCH = 64 * 1024;
/** Fetches per partition before what is left goes to the full decode. */
const HEADER_ROUNDS = 8;

/**
 * Resolves probes from batch headers, one Fetch per leader per round; returns the probes (by
 * partition) these bytes cannot answer. `answered` and `leftExact` count probes, for tests.
 */
export class BatchHeaderReader<C extends LeaderCluster> {
  answered = 0;
  leftExact = 0;

  constructor(
    private readonly raw: LeaderClient<C>,
    private readonly policy: RetryPolicy,
  ) {}

  /** `byTp`: each partition's probes, lowest offset first; `found` gets each timestamp read. */
  async resolve(
    byTp: Map<string, Probe[]>,
    found: (p: Probe, timestamp: number) => void,
  ): Promise<Map<string, Probe[]>> {
    const exact = new Map<string, Probe[]>();
    let pending = new Map([...byTp].map(([tp, list]) => [tp, { list, bytes: HEADER_FETCH_BYTES }]));
    for (let round = 0; round < HEADER_ROUNDS && pending.size > 0; round++) {
      const fetched = await this.fetch(
        [...pending.values()].map((p) => ({ ...(p.list[0] as Probe), bytes: p.bytes })),
      );
      const next: typeof pending = new Map();
      for (const [tp, { list, bytes: asked }] of pending) {
        const got = fetched.get(tp);
        const from = list[0] as Probe;
        if (!got || got.errorCode !== 0) {
          exact.set(tp, list); // the full decode retries, or fails as it always has
          continue;
        }
        const left = list.filter((p) => {
          const a = timestampAt(got.records, p.offset, got.lastStableOffset);
          if (a.kind === 'timestamp') found(p, a.timestamp);
          return a.kind !== 'timestamp' && a.kind !== 'end';
        });
        this.answered += list.length - left.length;
        const first = left[0];
        if (!first) continue;
        // Only the first probe left decides the next fetch; a request the same as this one is not sent twice.
        const a = timestampAt(got.records, first.offset, got.lastStableOffset);
        const bytes =
          a.kind === 'wider'
            ? Math.max(a.bytes ?? WIDEST_HEADER_FETCH, HEADER_FETCH_BYTES)
            : HEADER_FETCH_BYTES;
        const same = first === from && bytes <= asked;
        if (a.kind === 'exact' || bytes > WIDEST_HEADER_FETCH || same) exact.set(tp, left);
        else next.set(tp, { list: left, bytes });
      }
      pending = next;
    }
    for (const [tp, p] of pending) exact.set(tp, p.list);
    for (const list of exact.values()) this.leftExact += list.length;
    return exact;
  }

  /** One Fetch v11 per leader; retried as the full decode's fetch is (its policy, a fresh client). */
  private async fetch(wanted: Wanted[]): Promise<Map<string, FetchedPartition>> {
    const topics = [...new Set(wanted.map((p) => p.topic))];
    let connected = false;
    let used: C | undefined;
    return retry(
      async () => {
        connected = false;
        const cluster = used ? await this.raw.reconnect(topics, used) : await this.raw.connect(topics);
        connected = true;
        used = cluster;
        return this.fetchOnce(cluster, wanted);
      },
      this.policy,
      // A client that cannot connect has retried already (the caller's kafkajs settings).
      { retriable: (e) => connected && retriableFlag(e) === true },
    );
  }

  private async fetchOnce(cluster: C, wanted: Wanted[]): Promise<Map<string, FetchedPartition>> {
    const out = new Map<string, FetchedPartition>();
    await Promise.all(
      [...(await fetchTopicsByLeader(this.raw, cluster, wanted, (p) => p.bytes))].map(
        async ([nodeId, { probes: ps, topics }]) => {
          const broker = await cluster.findBroker({ nodeId });
          await fetchConnectionReady(broker);
          const request = fetchV11({
            replicaId: -1,
            maxWaitTime: 0,
            minBytes: 0,
            // Room for every partition's bytes and the first partition's whole first batch (sent
            // whatever its max_bytes): a response cut short leaves the partitions after it empty.
            maxBytes: ps.reduce((s, p) => s + p.bytes, 0) + 1024 * 1024,
            isolationLevel: 1, // read committed, as the full decode reads
            topics,
          });
          const got = (await broker.connectionPool.send({
            request: { ...request, expectResponse: () => true },
            response: { decode: async (raw: Buffer) => decodeFetchV11(raw), parse: async (d: unknown) => d },
          })) as Map<string, FetchedPartition>;
          for (const [tp, part] of got) out.set(tp, part);
        },
      ),
    );
    return out;
  }
}

/** One Fetch request's topics: each partition with the offset to read from and its max_bytes. */
export type FetchTopics = {
  topic: string;
  partitions: { partition: number; fetchOffset: string; maxBytes: number }[];
}[];

/** Probes by their partition's leader (node id), with that leader's Fetch topics. */
export async function fetchTopicsByLeader<C extends LeaderCluster, P extends Probe>(
  raw: Pick<LeaderClient<C>, 'leaderId'>,
  cluster: C,
  probes: P[],
  maxBytes: (p: P) => number,
): Promise<Map<string, { probes: P[]; topics: FetchTopics }>> {
  const byLeader = new Map<string, P[]>();
  for (const p of probes) push(byLeader, await raw.leaderId(cluster, p.topic, p.partition), p);
  const out = new Map<string, { probes: P[]; topics: FetchTopics }>();
  for (const [nodeId, ps] of byLeader) {
    const byTopic = new Map<string, FetchTopics[number]['partitions']>();
    for (const p of ps)
      push(byTopic, p.topic, {
        partition: p.partition,
        fetchOffset: String(p.offset),
        maxBytes: maxBytes(p),
      });
    out.set(nodeId, {
      probes: ps,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }
  return out;
}

/** Appends `item` to `key`'s list. */
export function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

import type { Kafka } from 'kafkajs';
import { retriableFlag, retry, type RetryPolicy } from '../retry.js';
import { chunks, mapLimit } from '../map-limit.js';
import { unknownTopic, whileCoordinatorLoads } from './kafka.js';
import { BatchHeaderReader, fetchTopicsByLeader, push } from './kafka-batch-headers.js';
import { fetchConnectionReady, RawKafka, type RawCluster, type RawMessage } from './kafka-raw.js';

/**
 * Reads records straight from partition leaders with raw Fetch requests, without joining a
 * consumer group and without committing anything: what `dlq show`, `trace`, `replay` and time
 * lag need. (The one write, `commitGroupOffsets`, moves the DLQ cursor groups.) kafkajs has no
 * public API for this: the requests go through its cluster internals (kafka-raw.ts).
 */

/** One partition's offset to commit, with the commit's metadata string. */
export interface OffsetCommit {
  partition: number;
  offset: number;
  metadata: string | null;
}

export interface OffsetProbe {
  topic: string;
  partition: number;
  offset: number;
}

/** One record as read from the log. Header values are decoded as UTF-8 (the last of a repeated key). */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Every value of each header, as bytes and in order (binary values, repeated keys). */
  rawHeaders: Record<string, Buffer[]>;
}

export interface ReadRangeOptions {
  /** Bytes asked per fetch for this partition (a batch larger than this is still returned whole). */
  maxBytes?: number;
  /** Stop after this many records. */
  maxRecords?: number;
}

/** Partitions whose time-lag records are fetched and decoded at once (timestamps). */
const PARTITIONS_PER_ROUND = 1000;
/** Slices of PARTITIONS_PER_ROUND in flight at once (each one Fetch per leader per round). */
const SLICES_AT_ONCE = 3;

/** A fetch that failed on the broker's side: 3 attempts, 300 then 600 ms apart, each with a fresh client. */
export const FETCH_RETRY: RetryPolicy = { initialMs: 300, maxMs: 600, maxAttempts: 3 };

export class KafkaLogReader {
  private readonly raw: RawKafka;
  /**
   * Timestamps found by the last two `timestamps` calls. A record's offset and timestamp never
   * change, so a view refreshing every few seconds (lag --watch, the console, metrics, lag's own
   * samples) reads again only the partitions whose position moved; what two calls did not ask for
   * is dropped. (Compaction can remove the record at a cached offset: the time lag then stays that
   * of the removed record until the group moves on.)
   */
  private known = new Map<string, number>();
  private knownBefore = new Map<string, number>();
  /** Time lag's first reader; its counters tell how many probes it answered. */
  readonly headers: BatchHeaderReader<RawCluster>;

  constructor(private readonly kafka: Kafka) {
    this.raw = new RawKafka(kafka);
    this.headers = new BatchHeaderReader(this.raw, FETCH_RETRY);
  }

  /**
   * Timestamps (ms) of the records at the given offsets; absent when there is no record there.
   * Read from record-batch headers first (kafka-batch-headers.ts); what they cannot answer is
   * fetched and decoded in rounds: each fetches every partition once, from its lowest unresolved
   * offset, and resolves every probe the returned records cover — many groups at different
   * offsets of one partition cost one or two rounds, not one round each.
   */
  async timestamps(probes: OffsetProbe[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const wanted = probes.filter((p) => {
      const key = probeKey(p);
      const ts = this.known.get(key) ?? this.knownBefore.get(key);
      if (ts !== undefined) out.set(key, ts);
      return ts === undefined;
    });
    for (const [key, ts] of await this.collectTimestamps(wanted, true)) out.set(key, ts);
    this.knownBefore = this.known;
    this.known = out;
    return out;
  }

  /** `timestamps` by fetching and decoding records only (no batch headers): the reference it equals. */
  async exactTimestamps(probes: OffsetProbe[]): Promise<Map<string, number>> {
    return this.collectTimestamps(probes, false);
  }

  /**
   * A topic deleted after its probes were taken (another team's, a test's) spoils the client's
   * metadata and failed the whole read: its probes get no timestamp (as a read a moment later would
   * not have asked), the others are read on a fresh client. Any other failure is thrown.
   */
  private async collectTimestamps(probes: OffsetProbe[], fromHeaders: boolean): Promise<Map<string, number>> {
    try {
      return await this.collectOnce(probes, fromHeaders);
    } catch (e) {
      if (!unknownTopic(e)) throw e;
      const admin = this.kafka.admin();
      await admin.connect();
      const existing = new Set(await admin.listTopics().finally(() => admin.disconnect()));
      const left = probes.filter((p) => existing.has(p.topic));
      if (left.length === probes.length) throw e;
      const topics = [...new Set(left.map((p) => p.topic))];
      // The client that failed (it knows these topics already, so no refresh fails here), replaced.
      await this.raw.reconnect(topics, await this.raw.connect(topics));
      return this.collectOnce(left, fromHeaders);
    }
  }

  private async collectOnce(probes: OffsetProbe[], fromHeaders: boolean): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (probes.length === 0) return out;
    const all = new Map<string, OffsetProbe[]>();
    for (const p of new Map(probes.map((x) => [probeKey(x), x])).values()) {
      push(all, `${p.topic}/${p.partition}`, p);
    }
    for (const list of all.values()) list.sort((a, b) => a.offset - b.offset);
    // Slices of partitions, a few at a time: the bytes of ten thousand partitions at once are
    // hundreds of megabytes (more decoded), and only one timestamp of each is kept; one slice
    // after another left the brokers and this process waiting on each other in turn.
    await mapLimit(chunks([...all.keys()], PARTITIONS_PER_ROUND), SLICES_AT_ONCE, async (tps) => {
      const slice = new Map(tps.map((tp) => [tp, all.get(tp) as OffsetProbe[]]));
      const byTp = fromHeaders
        ? await this.headers.resolve(slice, (p, ts) => out.set(probeKey(p), ts))
        : slice;
      await this.resolveTimestamps(byTp, out);
    });
    return out;
  }

  private async resolveTimestamps(byTp: Map<string, OffsetProbe[]>, out: Map<string, number>): Promise<void> {
    while (byTp.size > 0) {
      const round = [...byTp.values()].map((list) => list[0] as OffsetProbe);
      const results = await this.fetchMany(round, 64 * 1024);
      for (const [tp, list] of byTp) {
        const records = results.get(tp) ?? [];
        const last = records[records.length - 1];
        const remaining: OffsetProbe[] = [];
        for (const p of list) {
          const m = records.find((r) => r.offset >= p.offset);
          if (m) out.set(probeKey(p), m.timestamp);
          else if (last && p.offset > last.offset) remaining.push(p);
          // else: nothing at or after it (end of log): no timestamp
        }
        if (remaining.length > 0 && remaining.length < list.length) byTp.set(tp, remaining);
        else byTp.delete(tp);
      }
    }
  }

  /**
   * Reads [from, until) of one partition, calling `onBatch` with each fetched batch in order.
   * Returns the number of records delivered.
   */
  async readRange(
    topic: string,
    partition: number,
    from: number,
    until: number,
    onBatch: (records: KafkaRecord[]) => Promise<void> | void,
    options: ReadRangeOptions = {},
  ): Promise<number> {
    let next = from;
    let delivered = 0;
    const max = options.maxRecords ?? Number.POSITIVE_INFINITY;
    while (next < until && delivered < max) {
      const got = await this.fetchMany(
        [{ topic, partition, offset: next }],
        options.maxBytes ?? 4 * 1024 * 1024,
      );
      const records = (got.get(`${topic}/${partition}`) ?? []).filter(
        (r) => r.offset >= next && r.offset < until,
      );
      if (records.length === 0) {
        // Nothing at or after `next` below `until`: a gap (compaction, aborted transactions) or the end.
        break;
      }
      const batch = records.slice(0, Math.max(0, max - delivered));
      await onBatch(batch);
      delivered += batch.length;
      next = (batch[batch.length - 1]?.offset ?? next) + 1;
    }
    return delivered;
  }

  /** Convenience: every record of [from, until). */
  async readAll(topic: string, partition: number, from: number, until: number): Promise<KafkaRecord[]> {
    const out: KafkaRecord[] = [];
    await this.readRange(topic, partition, from, until, (b) => {
      out.push(...b);
    });
    return out;
  }

  /**
   * One Fetch per leader. A retriable failure (a request timeout on a loaded broker, a leader that
   * moved, a dropped connection, a topic deleted since) is retried twice with a fresh client.
   */
  private async fetchMany(probes: OffsetProbe[], maxBytes: number): Promise<Map<string, KafkaRecord[]>> {
    const topics = [...new Set(probes.map((p) => p.topic))];
    let connected = false;
    let used: RawCluster | undefined;
    return retry(
      async () => {
        // After a failure, a fresh client: current metadata, and only the topics still wanted.
        connected = false;
        const cluster = used ? await this.raw.reconnect(topics, used) : await this.raw.connect(topics);
        connected = true;
        used = cluster;
        return this.fetchOnce(cluster, probes, maxBytes);
      },
      FETCH_RETRY,
      // A client that cannot connect has retried already (the caller's kafkajs settings).
      { retriable: (e) => connected && retriableFlag(e) === true },
    );
  }

  private async fetchOnce(
    cluster: RawCluster,
    probes: OffsetProbe[],
    maxBytes: number,
  ): Promise<Map<string, KafkaRecord[]>> {
    const out = new Map<string, KafkaRecord[]>();
    await Promise.all(
      [...(await fetchTopicsByLeader(this.raw, cluster, probes, () => maxBytes))].map(
        async ([nodeId, { probes: ps, topics }]) => {
          const broker = await cluster.findBroker({ nodeId });
          await fetchConnectionReady(broker);
          const res = await broker.fetch({
            replicaId: -1,
            isolationLevel: 1,
            maxWaitTime: 0,
            minBytes: 0,
            maxBytes: Math.max(maxBytes * ps.length, 1024 * 1024),
            topics,
          });
          for (const t of res.responses) {
            for (const part of t.partitions) {
              out.set(
                `${t.topicName}/${part.partition}`,
                part.messages
                  .filter((m) => !m.isControlRecord)
                  .map((m) => ({
                    topic: t.topicName,
                    partition: part.partition,
                    offset: Number(m.offset),
                    timestamp: Number(m.timestamp),
                    key: m.key,
                    value: m.value,
                    headers: decodeHeaders(m.headers),
                    rawHeaders: rawHeaders(m.headers),
                  })),
              );
            }
          }
        },
      ),
    );
    return out;
  }

  /**
   * Commits offsets (with their metadata strings) for a group that has no members, straight to
   * its coordinator — a standalone commit, without joining the group (kafkajs' admin.setOffsets
   * joins it as a consumer and cannot carry metadata). The broker refuses it while members are
   * active.
   */
  async commitGroupOffsets(groupId: string, topic: string, partitions: OffsetCommit[]): Promise<void> {
    const cluster = await this.raw.connect([topic]);
    await whileCoordinatorLoads(async () => {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      await coordinator.offsetCommit({
        groupId,
        groupGenerationId: -1,
        memberId: '',
        retentionTime: -1,
        topics: [
          {
            topic,
            partitions: partitions.map((p) => ({
              partition: p.partition,
              offset: String(p.offset),
              metadata: p.metadata,
            })),
          },
        ],
      });
    });
  }

  async close(): Promise<void> {
    await this.raw.close();
  }
}

function decodeHeaders(h: RawMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last) out[k] = last.toString('utf8');
  }
  return out;
}

function rawHeaders(h: RawMessage['headers']): Record<string, Buffer[]> {
  const out: Record<string, Buffer[]> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k] = Array.isArray(v) ? v : [v];
  return out;
}

export function probeKey(p: OffsetProbe): string {
  return `${p.topic}/${p.partition}/${p.offset}`;
}

import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type KafkaConfig,
  type Message,
  type Producer,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError } from '../errors.js';
import { causeChain, retry, type RetryPolicy } from '../retry.js';
import { kafkaSecurity, kafkaUnreachable } from './kafka-auth.js';

export { kafkaUnreachable };

/**
 * The one place that constructs kafkajs clients, so the client library can be swapped without
 * touching services or ops code. Driver errors are turned into OrderbusErrors here.
 */
export function kafkaClient(
  config: OrderbusConfig,
  clientId = config.kafka.clientId,
  extra: Partial<KafkaConfig> = {},
): Kafka {
  const k = config.kafka;
  return new Kafka({
    clientId,
    brokers: k.brokers,
    ...kafkaSecurity(k),
    connectionTimeout: k.connectionTimeoutMs,
    requestTimeout: k.requestTimeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    ...extra,
  });
}

/** An admin client whose connect fails within seconds with the broker address named. */
export async function connectAdmin(
  config: OrderbusConfig,
  clientId = `${config.kafka.clientId}-admin`,
): Promise<Admin> {
  const kafka = kafkaClient(config, clientId, {
    retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 },
  });
  return renewingClient(async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw kafkaUnreachable(config, e);
    }
    return admin;
  }, whileCoordinatorLoads);
}

/**
 * kafkajs' names for a group coordinator that is loading or has moved. Kafka 4.x's group
 * coordinator names itself in FindCoordinator at once and answers group requests with
 * COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR while it loads its partitions: about half a
 * second after a broker starts, and again after a coordinator partition moves (3.9 answered
 * FindCoordinator with COORDINATOR_NOT_AVAILABLE instead, which kafkajs retries). kafkajs' admin
 * retries neither in fetchOffsets nor in describeGroups.
 */
const COORDINATOR_NOT_READY = new Set([
  'GROUP_LOAD_IN_PROGRESS', // COORDINATOR_LOAD_IN_PROGRESS (14)
  'GROUP_COORDINATOR_NOT_AVAILABLE', // COORDINATOR_NOT_AVAILABLE (15)
  'NOT_COORDINATOR_FOR_GROUP', // NOT_COORDINATOR (16)
]);

export const coordinatorNotReady = (e: unknown): boolean =>
  causeChain(e).some((c) => COORDINATOR_NOT_READY.has(String((c as { type?: unknown }).type)));

/** A coordinator loading or moving: 100 ms growing to 1 s, for up to 15 s. */
export const COORDINATOR_RETRY: RetryPolicy = {
  initialMs: 100,
  maxMs: 1000,
  jitter: 0.2,
  deadlineMs: 15_000,
};

/** Runs a group request again while its coordinator loads or moves (each attempt looks it up again). */
export function whileCoordinatorLoads<T>(call: () => Promise<T>): Promise<T> {
  return retry(call, COORDINATOR_RETRY, { retriable: coordinatorNotReady });
}

/** Whether `e` (or the error a kafkajs retry gave up on) is UNKNOWN_TOPIC_OR_PARTITION. */
export function unknownTopic(e: unknown): boolean {
  const err = e as { type?: string; cause?: { type?: string } } | undefined;
  return err?.type === 'UNKNOWN_TOPIC_OR_PARTITION' || err?.cause?.type === 'UNKNOWN_TOPIC_OR_PARTITION';
}

/**
 * A kafkajs client (an admin or a producer, opened by `open`) that starts over when a deleted
 * topic has spoiled its metadata. kafkajs refreshes the metadata of every topic a client has ever
 * looked at or sent to; once one of them is deleted, each refresh fails with
 * UNKNOWN_TOPIC_OR_PARTITION, so the client fails every later call that needs metadata — a
 * console or `lag --watch` that once showed a group whose topic was then deleted could no longer
 * create the audit topic, and its producer could no longer redrive to any topic. On that error
 * this client swaps in a freshly connected one and tries the call once more (a topic that really
 * does not exist fails again, with the same error). The old client is disconnected a minute
 * later, so calls still running on it finish. Methods kafkajs answers synchronously pass through.
 * `around` runs each call (connectAdmin's retries it while a group coordinator loads).
 */
export async function renewingClient<T extends { disconnect(): Promise<void> }>(
  open: () => Promise<T>,
  around: <R>(call: () => Promise<R>) => Promise<R> = (call) => call(),
): Promise<T> {
  const first = await open();
  let current = first;
  let renewing: Promise<T> | undefined;
  const retired = new Set<T>();
  const retire = (old: T) => {
    retired.add(old);
    setTimeout(() => {
      if (retired.delete(old)) void old.disconnect().catch(() => undefined);
    }, 60_000).unref();
  };
  const renew = (bad: T): Promise<T> => {
    if (current !== bad) return Promise.resolve(current);
    renewing ??= open().then(
      (fresh) => {
        current = fresh;
        renewing = undefined;
        retire(bad);
        return fresh;
      },
      (e: unknown) => {
        renewing = undefined;
        throw e;
      },
    );
    return renewing;
  };
  return new Proxy(first, {
    get(_target, prop) {
      if (prop === 'disconnect') {
        return async () => {
          const old = [...retired];
          retired.clear();
          await Promise.all([current, ...old].map((a) => a.disconnect().catch(() => undefined)));
        };
      }
      const value: unknown = Reflect.get(current, prop);
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && PASS_THROUGH.has(prop)) return value.bind(current);
      return (...args: unknown[]) =>
        around(async () => {
          const used = current;
          try {
            return await (Reflect.get(used, prop) as (...a: unknown[]) => Promise<unknown>).apply(used, args);
          } catch (e) {
            if (!unknownTopic(e)) throw e;
            const fresh = await renew(used);
            return await (Reflect.get(fresh, prop) as (...a: unknown[]) => Promise<unknown>).apply(
              fresh,
              args,
            );
          }
        });
    },
  });
}

/** Client methods that are not wrapped: connecting, events, and the synchronous answers. */
const PASS_THROUGH = new Set(['connect', 'on', 'logger', 'isIdempotent']);

/** An idempotent, acks=all producer: the only kind the pipeline uses for events. */
export function idempotentProducer(kafka: Kafka, extra: ProducerConfig = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...extra,
  });
}

/**
 * A client opened on first use and shared by concurrent callers. An open that failed is forgotten,
 * so the next use opens a new one; `drop` forgets and disconnects a client that went bad — unless
 * another caller already replaced it.
 */
export class SharedClient<T extends { disconnect(): Promise<void> }> {
  private current: Promise<T> | undefined;

  constructor(private readonly open: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.current) {
      const opening = this.open();
      this.current = opening;
      opening.catch(() => {
        if (this.current === opening) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Forgets and disconnects `client` if it is still the current one; says whether it was. */
  async drop(client: Promise<T>): Promise<boolean> {
    if (this.current !== client) return false;
    this.current = undefined;
    const c = await client.catch(() => undefined);
    await c?.disconnect().catch(() => undefined);
    return true;
  }

  /**
   * Forgets and disconnects the current client if it is `stale` (what a caller used when it
   * failed); when another caller replaced it already, nothing. Requests in flight on it finish
   * first (kafkajs' disconnect waits for them); later ones on it fail retriable.
   */
  async replace(stale: T): Promise<void> {
    const current = this.current;
    if (current && (await current.catch(() => undefined)) === stale) await this.drop(current);
  }

  async close(): Promise<void> {
    if (this.current) await this.drop(this.current);
  }
}

/** How many partitions a topic has (cached by `topicPartitions`). */
export type PartitionCount = (topic: string) => Promise<number>;

const javaPartitioner = Partitioners.DefaultPartitioner();
const fakeMetadata = new Map<
  number,
  { partitionId: number; leader: number; replicas: number[]; isr: number[]; partitionErrorCode: number }[]
>();

/** The partition kafkajs' default partitioner (murmur2 of the key, like the Java client) picks for a key. */
export function partitionForKey(key: Buffer | string, partitions: number): number {
  let meta = fakeMetadata.get(partitions);
  if (!meta) {
    meta = Array.from({ length: partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    fakeMetadata.set(partitions, meta);
  }
  return javaPartitioner({ topic: '', partitionMetadata: meta, message: { key, value: null } });
}

/** Partition counts read through `admin`, cached for `ttlMs` (a topic that gains partitions is seen within that time). */
export function cachedPartitionCount(admin: () => Promise<Admin>, ttlMs = 30_000): PartitionCount {
  const cache = new Map<string, { n: number; at: number }>();
  return async (topic) => {
    const hit = cache.get(topic);
    if (hit && Date.now() - hit.at < ttlMs) return hit.n;
    const meta = await (await admin()).fetchTopicMetadata({ topics: [topic] });
    const n = meta.topics[0]?.partitions.length ?? 0;
    if (n <= 0) throw new Error(`topic ${topic} has no partitions in the cluster's metadata`);
    cache.set(topic, { n, at: Date.now() });
    return n;
  };
}

/** `cachedPartitionCount` over its own lazily connected admin; `close` disconnects it. */
export function topicPartitions(kafka: Kafka): PartitionCount & { close(): Promise<void> } {
  const admin = new SharedClient(() =>
    renewingClient(async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    }),
  );
  return Object.assign(
    cachedPartitionCount(() => admin.get()),
    { close: () => admin.close() },
  );
}

/** A send the broker did not acknowledge for every partition it was meant for (retry it whole). */
export class IncompleteSendError extends Error {
  readonly retriable = true;
  constructor(readonly missing: string[]) {
    super(`the broker did not acknowledge partitions ${missing.join(', ')} of a send`);
    this.name = 'IncompleteSendError';
  }
}

let roundRobin = 0;

/**
 * Sends and checks that every partition the messages were meant for was acknowledged. kafkajs
 * 2.2.4 can resolve a send without having sent some of it: when a partition's leader dies during
 * the send, the retry goes only to brokers that have not answered yet, so the partitions that
 * moved to a broker that already answered (for its own partitions) are silently left out
 * (tulios/kafkajs#1303; seen here as records marked sent that no replica ever held, after a
 * broker kill). So every message gets an explicit partition (the default partitioner's choice for
 * keyed messages — placement is unchanged — and round-robin for keyless ones), and whatever the
 * answer leaves out is sent again, up to `attempts` sends in all; then IncompleteSendError.
 * Each partition's messages always travel together, so the order within a partition holds.
 */
export async function sendConfirmed(
  producer: Pick<Producer, 'sendBatch'>,
  batch: ProducerBatch,
  partitionsOf: PartitionCount,
  options: { attempts?: number; onIncomplete?: (missing: string[]) => void } = {},
): Promise<RecordMetadata[]> {
  const attempts = options.attempts ?? 3;
  if (batch.acks === 0) return producer.sendBatch(batch);
  let pending: TopicMessages[] = [];
  for (const tm of batch.topicMessages ?? []) {
    const n = await partitionsOf(tm.topic);
    pending.push({
      topic: tm.topic,
      messages: tm.messages.map((m): Message =>
        m.partition !== undefined && m.partition !== null
          ? m
          : { ...m, partition: m.key != null ? partitionForKey(m.key, n) : roundRobin++ % n },
      ),
    });
  }
  const acked: RecordMetadata[] = [];
  for (let attempt = 1; ; attempt++) {
    const answer = await producer.sendBatch({ ...batch, topicMessages: pending });
    const ok = new Set<string>();
    for (const r of answer)
      if (r.errorCode === 0) {
        ok.add(`${r.topicName}/${r.partition}`);
        acked.push(r);
      }
    pending = pending
      .map((tm) => ({
        ...tm,
        messages: tm.messages.filter((m) => !ok.has(`${tm.topic}/${String(m.partition)}`)),
      }))
      .filter((tm) => tm.messages.length > 0);
    if (pending.length === 0) return acked;
    const missing = [
      ...new Set(pending.flatMap((tm) => tm.messages.map((m) => `${tm.topic}/${String(m.partition)}`))),
    ];
    options.onIncomplete?.(missing);
    if (attempt >= attempts) throw new IncompleteSendError(missing);
  }
}

/**
 * A long-lived producer that replaces itself after a failed send. kafkajs' idempotent producer
 * stays broken once the broker rejected its sequence state (OUT_OF_ORDER_SEQUENCE_NUMBER or
 * UNKNOWN_PRODUCER_ID, seen after a broker restart) — every later send fails the same way. A
 * fresh producer gets a new producer id. The caller still owns the records of the failed send and
 * sends them again; if the broker had in fact written them, the duplicates are absorbed
 * downstream by eventId. Every send is a `sendConfirmed`: acknowledged for every partition.
 */
export class RecoveringProducer {
  private readonly current: SharedClient<Producer>;
  /** How many times the producer was replaced after a failed send. */
  replaced = 0;

  constructor(
    make: () => Producer,
    private readonly partitionsOf: PartitionCount,
    private readonly onIncomplete?: (missing: string[]) => void,
  ) {
    this.current = new SharedClient(async () => {
      const p = make();
      try {
        await p.connect();
      } catch (e) {
        void p.disconnect().catch(() => undefined);
        throw e;
      }
      return p;
    });
  }

  async connect(): Promise<void> {
    await this.current.get();
  }

  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    const connecting = this.current.get();
    const p = await connecting;
    const { topic, messages, ...rest } = record;
    try {
      return await sendConfirmed(p, { ...rest, topicMessages: [{ topic, messages }] }, this.partitionsOf, {
        ...(this.onIncomplete ? { onIncomplete: this.onIncomplete } : {}),
      });
    } catch (e) {
      // The next send gets a fresh producer (unless a concurrent failure already replaced it).
      if (await this.current.drop(connecting)) this.replaced++;
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    await this.current.close();
  }
}

/** Runs `fn` with a connected admin and always disconnects. */
export async function withAdmin<T>(config: OrderbusConfig, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = await connectAdmin(config);
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface NewTopic {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/**
 * Creates topics and waits until every partition has a leader that answers. kafkajs' own
 * `waitForLeaders` fails on multi-broker KRaft clusters (a broker answers
 * UNKNOWN_TOPIC_OR_PARTITION until its metadata catches up), so the wait polls metadata itself,
 * tolerating that error.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: NewTopic[],
  timeoutMs = 30000,
): Promise<void> {
  if (topics.length === 0) return;
  await admin.createTopics({ waitForLeaders: false, topics });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      const ready = topics.every((t) => {
        const m = meta.topics.find((x) => x.name === t.topic);
        return (
          m !== undefined &&
          m.partitions.length === t.numPartitions &&
          m.partitions.every((p) => p.leader >= 0)
        );
      });
      // A leader named in the metadata may still answer NOT_LEADER_OR_FOLLOWER for a moment,
      // until it has applied its leadership: ready once every partition answers for its offsets.
      if (ready) {
        await Promise.all(topics.map((t) => admin.fetchTopicOffsets(t.topic)));
        return;
      }
    } catch {
      // metadata not propagated yet
    }
    if (Date.now() > deadline) {
      throw new OrderbusError(
        'TOPIC_CREATE_TIMEOUT',
        `topics ${topics.map((t) => t.topic).join(', ')} have no leaders after ${timeoutMs} ms`,
        {
          hint: 'orderbus stack status',
          retriable: true,
        },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

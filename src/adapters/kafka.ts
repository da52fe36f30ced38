import {
  Kafka,
  logLevel,
  type Admin,
  type KafkaConfig,
  type Producer,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
} from 'kafkajs';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError, errorMessage } from '../errors.js';

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
    ssl: k.ssl,
    ...(k.sasl ? { sasl: k.sasl as KafkaConfig['sasl'] } : {}),
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
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (e) {
    throw kafkaUnreachable(config, e);
  }
  return admin;
}

export function kafkaUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  return new OrderbusError(
    'KAFKA_UNREACHABLE',
    `cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${errorMessage(cause)}`,
    {
      hint: 'orderbus stack status (and orderbus stack up to start the local stack)',
      retriable: true,
      subject: config.kafka.brokers.join(','),
      cause,
    },
  );
}

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
 * A long-lived producer that replaces itself after a failed send. kafkajs' idempotent producer
 * stays broken once the broker rejected its sequence state (OUT_OF_ORDER_SEQUENCE_NUMBER or
 * UNKNOWN_PRODUCER_ID, seen after a broker restart) — every later send fails the same way. A
 * fresh producer gets a new producer id. The caller still owns the records of the failed send and
 * sends them again; if the broker had in fact written them, the duplicates are absorbed
 * downstream by eventId.
 */
export class RecoveringProducer {
  private current: Promise<Producer> | undefined;
  /** How many times the producer was replaced after a failed send. */
  replaced = 0;

  constructor(private readonly make: () => Producer) {}

  async connect(): Promise<void> {
    await this.producer();
  }

  private producer(): Promise<Producer> {
    if (!this.current) {
      const p = this.make();
      const connecting = p.connect().then(() => p);
      this.current = connecting;
      // A connect that failed is dropped, so the next send tries a new one.
      connecting.catch(() => {
        if (this.current === connecting) this.current = undefined;
        void p.disconnect().catch(() => undefined);
      });
    }
    return this.current;
  }

  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    const connecting = this.producer();
    const p = await connecting;
    try {
      return await p.send(record);
    } catch (e) {
      if (this.current === connecting) {
        this.current = undefined;
        this.replaced++;
        await p.disconnect().catch(() => undefined);
      }
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    const p = await current?.catch(() => undefined);
    await p?.disconnect().catch(() => undefined);
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
 * Creates topics and waits until every partition has a leader. kafkajs' own `waitForLeaders`
 * fails on multi-broker KRaft clusters (a broker answers UNKNOWN_TOPIC_OR_PARTITION until its
 * metadata catches up), so the wait polls metadata itself, tolerating that error.
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
      if (ready) return;
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

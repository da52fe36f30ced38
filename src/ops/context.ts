import type { Admin, Kafka, Producer } from 'kafkajs';
import type { OrderbusConfig } from '../config.js';
import {
  cachedPartitionCount,
  connectAdmin,
  idempotentProducer,
  kafkaClient,
  kafkaUnreachable,
  renewingClient,
  SharedClient,
  type PartitionCount,
} from '../adapters/kafka.js';
import { KafkaLogReader } from '../adapters/kafka-fetch.js';
import { GroupReader } from '../adapters/kafka-groups.js';
import { RawKafka } from '../adapters/kafka-raw.js';
import { connectRabbit, type AmqpConnection } from '../adapters/rabbitmq.js';

/**
 * What an ops call needs, created lazily and closed once: one admin client, one log reader, one
 * producer, one AMQP connection. The CLI makes one per command; the console keeps one open.
 */
export class OpsContext {
  private readonly admin_ = new SharedClient(() =>
    connectAdmin(this.config, `${this.config.kafka.clientId}-ops-admin`),
  );
  private reader_: KafkaLogReader | undefined;
  private groups_: GroupReader | undefined;
  private raw_: RawKafka | undefined;
  // Renewing: the console's producer outlives topics it redrove to (see renewingClient).
  private readonly producer_ = new SharedClient(() =>
    renewingClient(async () => {
      const p = idempotentProducer(this.producerKafka);
      try {
        await p.connect();
      } catch (e) {
        throw kafkaUnreachable(this.config, e);
      }
      return p;
    }),
  );
  private amqp_: Promise<AmqpConnection> | undefined;
  readonly kafka: Kafka;
  /** For producers: the default retries ride out leader moves and fresh topics' metadata. */
  readonly producerKafka: Kafka;
  /** Partition counts for `sendConfirmed` (cached, through this context's admin). */
  readonly partitionsOf: PartitionCount = cachedPartitionCount(() => this.admin());

  constructor(readonly config: OrderbusConfig) {
    this.kafka = kafkaClient(config, `${config.kafka.clientId}-ops`, {
      retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 },
    });
    this.producerKafka = kafkaClient(config, `${config.kafka.clientId}-ops`);
  }

  admin(): Promise<Admin> {
    return this.admin_.get();
  }

  reader(): KafkaLogReader {
    this.reader_ ??= new KafkaLogReader(this.kafka);
    return this.reader_;
  }

  /** kafkajs' cluster for the requests orderbus writes itself (kafka-raw.ts). */
  private raw(): RawKafka {
    this.raw_ ??= new RawKafka(this.kafka);
    return this.raw_;
  }

  /** Consumer groups of both protocols (classic and KIP-848). */
  groups(): GroupReader {
    this.groups_ ??= new GroupReader(this.raw(), () => this.admin());
    return this.groups_;
  }

  /** The cluster's topic names (one Metadata request, its partitions not decoded). */
  topicNames(): Promise<string[]> {
    return this.raw().topicNames();
  }

  /** Which of `topics` exist (one Metadata request for them alone). */
  existingTopics(topics: string[]): Promise<Set<string>> {
    return this.raw().existingTopics(topics);
  }

  producer(): Promise<Producer> {
    return this.producer_.get();
  }

  amqp(): Promise<AmqpConnection> {
    this.amqp_ ??= connectRabbit(this.config, 'orderbus-ops').then(
      (c) => {
        c.on('close', () => (this.amqp_ = undefined));
        return c;
      },
      (e: unknown) => {
        this.amqp_ = undefined;
        throw e;
      },
    );
    return this.amqp_;
  }

  async close(): Promise<void> {
    const amqp = this.amqp_;
    this.amqp_ = undefined;
    await Promise.all([
      this.admin_.close(),
      this.producer_.close(),
      amqp?.then((c) => c.close()).catch(() => undefined),
      this.reader_?.close(),
      this.raw_?.close(),
    ]);
    this.reader_ = undefined;
    this.groups_ = undefined;
    this.raw_ = undefined;
  }
}

/** Runs `fn` with a fresh context and always closes it. */
export async function withOps<T>(config: OrderbusConfig, fn: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const ctx = new OpsContext(config);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

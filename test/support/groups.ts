import type { Consumer, Kafka } from 'kafkajs';
import { expect } from 'vitest';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader, type KafkaRecord } from '../../src/adapters/kafka-fetch.js';
import { runCli, type CliResult } from './cli.js';
import { apacheDescribe, type ToolRow } from './kafka-tools.js';
import { testNamespace } from './namespace.js';
import { waitUntil } from './wait.js';

/** Records per partition of the fixture topic, one a second from a minute before the test. */
export const RECORDS_PER_PARTITION = [10, 20, 30] as const;

/**
 * The consumer groups the lag, offsets and replay tests read and rewrite, in a namespace of their
 * own: `topic` (partitions holding RECORDS_PER_PARTITION records, keys k0, k1…), `idle`
 * (offsets committed at 4 on partition 0 and 30 on partition 2, no members) and `active` (a
 * live member that consumed and committed everything). Commands run with `env` write their audit
 * records to the namespace's own topic.
 */
export class GroupsFixture {
  readonly config: OrderbusConfig;
  readonly ns: string;
  readonly topic: string;
  readonly idle: string;
  readonly active: string;
  readonly env: Record<string, string>;
  readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  /** Topics a test created besides the fixture's; deleted in stop(). */
  readonly extraTopics: string[] = [];

  /** `target`: another cluster than the stack's, with the environment that points the CLI at it. */
  constructor(label: string, target?: { config: OrderbusConfig; env: Record<string, string> }) {
    this.config = target?.config ?? loadConfig();
    this.ns = testNamespace(label);
    this.topic = `${this.ns}.events`;
    this.idle = `${this.ns}.idle`;
    this.active = `${this.ns}.active`;
    this.env = { ...target?.env, ORDERBUS_TOPIC_AUDIT: `${this.ns}.audit` };
    this.kafka = kafkaClient(this.config, this.ns);
  }

  async start(): Promise<void> {
    const admin = await connectAdmin(this.config);
    await createTopicsAndWait(admin, [
      { topic: this.topic, numPartitions: RECORDS_PER_PARTITION.length, replicationFactor: 1 },
    ]);
    const producer = this.kafka.producer();
    await producer.connect();
    const start = Date.now() - 60_000;
    for (const [partition, n] of RECORDS_PER_PARTITION.entries()) {
      await producer.send({
        topic: this.topic,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => ({
          partition,
          key: `k${i}`,
          value: `v${i}`,
          // one record per second, starting a minute ago: time ranges are checkable
          timestamp: String(start + i * 1000),
        })),
      });
    }
    await producer.disconnect();
    await admin.setOffsets({
      groupId: this.idle,
      topic: this.topic,
      partitions: [
        { partition: 0, offset: '4' },
        { partition: 2, offset: '30' },
      ],
    });
    await admin.disconnect();
    const total = RECORDS_PER_PARTITION.reduce((a, b) => a + b, 0);
    this.consumer = this.kafka.consumer({ groupId: this.active });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({ eachMessage: async () => undefined });
    await waitUntil('the active group consumed and committed everything', async () => {
      const a = await connectAdmin(this.config);
      const offs = await a.fetchOffsets({ groupId: this.active, topics: [this.topic] });
      await a.disconnect();
      return offs[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0) === total;
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    const admin = await connectAdmin(this.config);
    await admin.deleteGroups([this.idle, this.active]).catch(() => undefined);
    await admin
      .deleteTopics({ topics: [this.topic, `${this.ns}.audit`, ...this.extraTopics] })
      .catch(() => undefined);
    await admin.disconnect();
  }

  /** `orderbus ARGS` against the fixture's cluster, with the namespace's audit topic. */
  cli(args: string[]): Promise<CliResult> {
    return runCli(args, { env: this.env });
  }

  /** `orderbus ARGS --json`, which must exit 0; its output parsed. */
  async json<T>(args: string[]): Promise<T> {
    const r = await this.cli([...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  }

  /** Kafka's own `kafka-consumer-groups --describe` of `group`: its rows on the fixture topic. */
  apacheDescribe(group: string): Promise<ToolRow[]> {
    return apacheDescribe(this.config, group, this.topic);
  }

  /** The committed offset of `group` on `partition`, as Kafka's own tool reads it. */
  async committed(group: string, partition: number): Promise<number | null | undefined> {
    return (await this.apacheDescribe(group)).find((a) => a.partition === partition)?.current;
  }

  /** Every record of `topic`'s partitions 0…partitions-1, read from the log (no consumer group). */
  async readTopic(topic: string, partitions: number): Promise<KafkaRecord[][]> {
    const reader = new KafkaLogReader(this.kafka);
    try {
      const out: KafkaRecord[][] = [];
      for (let p = 0; p < partitions; p++)
        out.push(await reader.readAll(topic, p, 0, Number.MAX_SAFE_INTEGER));
      return out;
    } finally {
      await reader.close();
    }
  }
}

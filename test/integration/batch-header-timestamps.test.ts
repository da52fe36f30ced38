import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, type Admin, type Kafka, type Message } from 'kafkajs';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader, probeKey, type OffsetProbe } from '../../src/adapters/kafka-fetch.js';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { testNamespace } from '../support/namespace.js';
import { KAFKA_4, kafka4Config, sharedKafka4 } from '../support/shared-kafka4.js';

/**
 * Time lag's timestamps from record-batch headers (kafka-batch-headers.ts) equal the records'
 * own, as kafkajs decodes them (`exactTimestamps`), on Kafka 3.9 and 4.x: uncompressed batches of
 * 50 records of 5 KB and 21 KB (larger than the first fetch asks), gzip batches, transactions
 * (their control markers, an aborted one) and LogAppendTime. Record n of a topic has timestamp T0 + 1000 n (+ the
 * partition), so the equality is not that of two empty answers.
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');
const stamp = (partition: number, offset: number) => T0 + 1000 * offset + partition;

/** Records of ~100 bytes, or ~420 on partition 1 (a 50-record batch larger than the first fetch asks). */
function records(partition: number, from: number, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => {
    const hex = createHash('sha256')
      .update(`${partition}/${from + i}`)
      .digest('hex');
    return {
      partition,
      key: `k${from + i}`,
      value: `order ${from + i} ${hex.repeat(partition === 1 ? 6 : 1)}`,
      timestamp: String(stamp(partition, from + i)),
    };
  });
}

/** Probes at batch starts, mid-batch and batch ends of 50-record batches, and at the log end. */
const BATCHED = [0, 1, 13, 25, 49, 50, 77, 99, 100, 101, 149, 150];

interface Written {
  probes: OffsetProbe[];
  /** The timestamp each probe must read (absent: the log end). */
  expected: Map<string, number>;
}

async function writeTopics(config: OrderbusConfig, kafka: Kafka, admin: Admin, ns: string): Promise<Written> {
  const rf = config.topics.replicationFactor;
  const [plain, gzip, tx, append] = ['plain', 'gzip', 'tx', 'append'].map((t) => `${ns}.${t}`) as [
    string,
    string,
    string,
    string,
  ];
  await createTopicsAndWait(admin, [
    { topic: plain, numPartitions: 2, replicationFactor: rf },
    { topic: gzip, numPartitions: 1, replicationFactor: rf },
    { topic: tx, numPartitions: 1, replicationFactor: rf },
    {
      topic: append,
      numPartitions: 1,
      replicationFactor: rf,
      configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
    },
  ]);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const probes: OffsetProbe[] = [];
  const expected = new Map<string, number>();
  const probe = (topic: string, partition: number, offset: number, at: number | undefined) => {
    probes.push({ topic, partition, offset });
    if (at !== undefined) expected.set(`${topic}/${partition}/${offset}`, at);
  };
  try {
    // One send to one partition is one batch.
    for (const [topic, compression] of [
      [plain, CompressionTypes.None],
      [gzip, CompressionTypes.GZIP],
    ] as const)
      for (const partition of topic === plain ? [0, 1] : [0])
        for (let b = 0; b < 3; b++)
          await producer.send({ topic, acks: -1, compression, messages: records(partition, 50 * b, 50) });
    for (const topic of [plain, gzip])
      for (const partition of topic === plain ? [0, 1] : [0])
        for (const offset of BATCHED)
          probe(topic, partition, offset, offset < 150 ? stamp(partition, offset) : undefined);

    // Transactions of 20 records: committed (0-19, marker 20), aborted (21-40, marker 41), committed
    // (42-61, marker 62). The aborted records are in the log, and the exact decode reads them too.
    const txp = kafka.producer({ transactionalId: `${ns}-tx`, idempotent: true, maxInFlightRequests: 1 });
    await txp.connect();
    try {
      for (const [from, commit] of [
        [0, true],
        [21, false],
        [42, true],
      ] as const) {
        const t = await txp.transaction();
        await t.send({ topic: tx, acks: -1, messages: records(0, from, 20) });
        await (commit ? t.commit() : t.abort());
      }
    } finally {
      await txp.disconnect();
    }
    for (const [offset, at] of [
      [0, 0],
      [10, 10],
      [19, 19],
      [20, 21], // the marker: the next record
      [30, 30],
      [41, 42],
      [55, 55],
      [62, undefined], // the last marker: no record after it
      [63, undefined], // the log end
    ] as const)
      probe(tx, 0, offset, at === undefined ? undefined : stamp(0, at));

    const before = Date.now();
    for (let b = 0; b < 2; b++)
      await producer.send({ topic: append, acks: -1, messages: records(0, 50 * b, 50) });
    for (const offset of [0, 30, 50, 99, 100]) probe(append, 0, offset, undefined);
    expected.set('append-after', before);
  } finally {
    await producer.disconnect();
  }
  return { probes, expected };
}

function clusterSuite(name: string, config: () => OrderbusConfig, setup: () => Promise<void>) {
  describe(`time lag timestamps from batch headers on Kafka ${name}`, () => {
    const ns = testNamespace('bhts');
    let admin: Admin;
    let kafka: Kafka;
    let written: Written;

    beforeAll(async () => {
      await setup();
      admin = await connectAdmin(config());
      kafka = kafkaClient(config(), `${ns}-client`);
      written = await writeTopics(config(), kafka, admin, ns);
    }, 180_000);

    afterAll(async () => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${ns}.`));
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    });

    it('equal the exact decode for every probe, most of them read from headers alone', async () => {
      const reader = new KafkaLogReader(kafka);
      try {
        const exact = await reader.exactTimestamps(written.probes);
        expect(reader.headers.answered).toBe(0);
        const fromHeaders = await reader.timestamps(written.probes);
        expect(Object.fromEntries(fromHeaders)).toEqual(Object.fromEntries(exact));

        // The reference itself is right: each record's own timestamp; LogAppendTime the broker's.
        const after = written.expected.get('append-after') as number;
        for (const p of written.probes) {
          const key = `${p.topic}/${p.partition}/${p.offset}`;
          if (p.topic.endsWith('.append')) {
            if (p.offset < 100) expect(fromHeaders.get(key)).toBeGreaterThanOrEqual(after);
            else expect(fromHeaders.has(key)).toBe(false);
          } else expect([key, fromHeaders.get(key)]).toEqual([key, written.expected.get(key)]);
        }

        const { answered, leftExact } = reader.headers;
        expect(answered + leftExact).toBe(written.probes.length);
        expect(answered).toBeGreaterThanOrEqual(Math.ceil(0.9 * written.probes.length));

        // A view refreshing (lag --watch) asks the same probes again: the answers are kept, nothing
        // is fetched, and the probes with no record at or after them are asked again.
        const again = await reader.timestamps(written.probes);
        expect(Object.fromEntries(again)).toEqual(Object.fromEntries(exact));
        const unanswered = written.probes.filter((p) => !exact.has(probeKey(p))).length;
        expect(unanswered).toBeGreaterThan(0);
        expect(reader.headers.answered + reader.headers.leftExact).toBe(written.probes.length + unanswered);
      } finally {
        await reader.close();
      }
    });
  });
}

clusterSuite('3.9 (the stack)', loadConfig, async () => undefined);
clusterSuite(KAFKA_4, kafka4Config, sharedKafka4);

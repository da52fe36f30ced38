import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config.js';
import {
  connectAdmin,
  createTopicsAndWait,
  idempotentProducer,
  kafkaClient,
  renewingClient,
} from '../../src/adapters/kafka.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

const config = loadConfig();
const ns = testNamespace('smoke');
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  kafka = kafkaClient(config, ns);
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [`${ns}-in`, `${ns}-out`].map((topic) => ({
      topic,
      numPartitions: 3,
      replicationFactor: config.topics.replicationFactor,
    })),
  });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [`${ns}-in`, `${ns}-out`] }).catch(() => undefined);
  await admin.deleteGroups([`${ns}-g`, `${ns}-tx`, `${ns}-rc`]).catch(() => undefined);
  await admin.disconnect();
});

describe('Kafka foundations against the real broker', () => {
  it('produces with acks=all and consumes with a consumer group; admin offsets agree', async () => {
    const producer = idempotentProducer(kafka);
    await producer.connect();
    const messages = Array.from({ length: 30 }, (_, i) => ({ key: `order-${i % 5}`, value: `v${i}` }));
    await producer.send({ topic: `${ns}-in`, acks: -1, messages });
    await producer.disconnect();

    const seen: string[] = [];
    const consumer = kafka.consumer({ groupId: `${ns}-g` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${ns}-in`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? ''),
    });
    await waitUntil('30 messages consumed', () => seen.length >= 30);
    await consumer.disconnect(); // commits what was consumed

    expect(new Set(seen)).toEqual(new Set(messages.map((m) => m.value)));
    const ends = await admin.fetchTopicOffsets(`${ns}-in`);
    const committed = await admin.fetchOffsets({ groupId: `${ns}-g`, topics: [`${ns}-in`] });
    const total = ends.reduce((s, p) => s + Number(p.high), 0);
    expect(total).toBe(30);
    for (const p of committed[0]?.partitions ?? []) {
      expect(p.offset).toBe(ends.find((e) => e.partition === p.partition)?.high);
    }
  });

  it('refuses setOffsets on an active group and applies it on an empty one', async () => {
    const groupId = `${ns}-g`;
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic: `${ns}-in`, fromBeginning: true });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    await consumer.run({ eachMessage: async () => undefined });
    await waitUntil('consumer joined', () => joined);
    await expect(
      admin.setOffsets({ groupId, topic: `${ns}-in`, partitions: [{ partition: 0, offset: '0' }] }),
    ).rejects.toThrow();
    await consumer.disconnect();
    await admin.setOffsets({ groupId, topic: `${ns}-in`, partitions: [{ partition: 0, offset: '0' }] });
    const after = await admin.fetchOffsets({ groupId, topics: [`${ns}-in`] });
    expect(after[0]?.partitions.find((p) => p.partition === 0)?.offset).toBe('0');
  });

  it('runs a transactional consume-transform-produce loop read back by a read_committed consumer', async () => {
    const seed = idempotentProducer(kafka);
    await seed.connect();
    await seed.send({
      topic: `${ns}-in`,
      acks: -1,
      messages: [{ key: 'tx', value: 'tx-input', partition: 1 }],
    });
    await seed.disconnect();

    const producer = kafka.producer({
      transactionalId: `${ns}-tx-p1`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const consumer = kafka.consumer({ groupId: `${ns}-tx` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${ns}-in`, fromBeginning: true });
    let transformed = 0;
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const tx = await producer.transaction();
        try {
          await tx.send({
            topic: `${ns}-out`,
            messages: [{ key: message.key, value: `out:${message.value?.toString() ?? ''}` }],
          });
          await tx.sendOffsets({
            consumerGroupId: `${ns}-tx`,
            topics: [
              { topic, partitions: [{ partition, offset: (BigInt(message.offset) + 1n).toString() }] },
            ],
          });
          await tx.commit();
          transformed++;
        } catch (e) {
          await tx.abort();
          throw e;
        }
      },
    });
    const ends = await admin.fetchTopicOffsets(`${ns}-in`);
    const inputCount = ends.reduce((s, p) => s + Number(p.high), 0);
    await waitUntil('every input transformed', () => transformed >= inputCount);
    await consumer.disconnect();
    await producer.disconnect();

    const committed = await admin.fetchOffsets({ groupId: `${ns}-tx`, topics: [`${ns}-in`] });
    for (const p of committed[0]?.partitions ?? [])
      expect(p.offset).toBe(ends.find((e) => e.partition === p.partition)?.high);

    const readBack: string[] = [];
    const reader = kafka.consumer({ groupId: `${ns}-rc`, readUncommitted: false });
    await reader.connect();
    await reader.subscribe({ topic: `${ns}-out`, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => void readBack.push(message.value?.toString() ?? ''),
    });
    await waitUntil('transformed records visible to read_committed', () => readBack.length >= inputCount);
    await reader.disconnect();
    expect(readBack).toContain('out:tx-input');
    expect(readBack.every((v) => v.startsWith('out:'))).toBe(true);
  });

  it('an admin that has seen a since-deleted topic still creates and reads new topics', async () => {
    // The console's admin sees every group's topics; another client then deletes one of them.
    const gone = `${ns}-gone`;
    const fresh = [`${ns}-new-a`, `${ns}-new-b`];
    await createTopicsAndWait(admin, [
      { topic: gone, numPartitions: 2, replicationFactor: config.topics.replicationFactor },
    ]);
    const ours = await connectAdmin(config, `${ns}-renewing`);
    const plain = kafka.admin();
    await plain.connect();
    try {
      await ours.fetchTopicOffsets(gone);
      await plain.fetchTopicOffsets(gone);
      await admin.deleteTopics({ topics: [gone] });
      await waitUntil('the topic is gone', async () => !(await admin.listTopics()).includes(gone));
      await createTopicsAndWait(admin, [
        { topic: fresh[1]!, numPartitions: 3, replicationFactor: config.topics.replicationFactor },
      ]);
      // kafkajs' own admin is spoiled by the deleted topic (else this test would prove nothing).
      await expect(plain.fetchTopicOffsets(fresh[1]!)).rejects.toThrow(/does not host this topic-partition/);
      // Ours starts over and answers.
      expect((await ours.fetchTopicOffsets(fresh[1]!)).length).toBe(3);
      await createTopicsAndWait(ours, [
        { topic: fresh[0]!, numPartitions: 2, replicationFactor: config.topics.replicationFactor },
      ]);
      expect((await ours.fetchTopicOffsets(fresh[0]!)).length).toBe(2);
      // A topic that really does not exist is still an error.
      await expect(ours.fetchTopicOffsets(`${ns}-never`)).rejects.toThrow(
        /does not host this topic-partition/,
      );
    } finally {
      await plain.disconnect();
      await ours.disconnect();
      await admin.deleteTopics({ topics: fresh }).catch(() => undefined);
    }
  });

  it('a producer that has sent to a since-deleted topic still sends to new topics', async () => {
    // The console's producer redrives to a topic; another client then deletes it.
    const gone = `${ns}-p-gone`;
    const fresh = `${ns}-p-new`;
    await createTopicsAndWait(admin, [
      { topic: gone, numPartitions: 2, replicationFactor: config.topics.replicationFactor },
    ]);
    const open = async () => {
      const p = idempotentProducer(kafkaClient(config, `${ns}-p`, { retry: { retries: 1 } }));
      await p.connect();
      return p;
    };
    const plain = await open();
    const ours = await renewingClient(open);
    try {
      for (const p of [plain, ours]) await p.send({ topic: gone, acks: -1, messages: [{ value: 'x' }] });
      await admin.deleteTopics({ topics: [gone] });
      await waitUntil('the topic is gone', async () => !(await admin.listTopics()).includes(gone));
      await createTopicsAndWait(admin, [
        { topic: fresh, numPartitions: 2, replicationFactor: config.topics.replicationFactor },
      ]);
      const send = (p: typeof plain) => p.send({ topic: fresh, acks: -1, messages: [{ value: 'y' }] });
      // kafkajs' own producer is spoiled by the deleted topic (else this test would prove nothing).
      await expect(send(plain)).rejects.toThrow(/does not host this topic-partition/);
      // Ours starts over and sends.
      expect((await send(ours))[0]?.errorCode).toBe(0);
      expect(ours.isIdempotent()).toBe(true);
      const offsets = await admin.fetchTopicOffsets(fresh);
      expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(1);
    } finally {
      await plain.disconnect().catch(() => undefined);
      await ours.disconnect();
      await admin.deleteTopics({ topics: [fresh] }).catch(() => undefined);
    }
  });
});

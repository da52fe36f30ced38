import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader, type KafkaRecord } from '../../src/adapters/kafka-fetch.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';
import { cursorGroup, cursorTopic } from '../../src/ops/dlq/kafka-cursor.js';
import type { DlqMessage, DlqSummary, PurgeResult, RedriveResult } from '../../src/ops/dlq/index.js';
import type { TraceResult } from '../../src/ops/trace.js';
import { runCli } from '../support/cli.js';
import { eventLetter, garbageLetter, sendLetters } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';
import { KAFKA_4, kafka4Config, kafka4Env, sharedKafka4 } from '../support/shared-kafka4.js';

/**
 * Kafka dead letters (list, show, redrive with the durable cursor, purge) and trace against a
 * Kafka 4.x broker (the run's shared one), as ops-dlq runs them against the stack's 3.9. Each
 * part has its own namespace: its topics, its audit topic and the cursor topic beside it.
 */
const config = kafka4Config();
const kafka = kafkaClient(config, testNamespace('k4dlq-client'));
const namespaces: string[] = [];
let admin: Admin;

/** A namespace's topics on the 4.x broker and the environment that points the CLI at them. */
function target(label: string) {
  const ns = testNamespace(label);
  namespaces.push(ns);
  const events = `${ns}.events`;
  const dlq = `${events}.dlq`;
  const env = {
    ...kafka4Env(),
    ORDERBUS_TOPIC_ORDER_EVENTS: events,
    ORDERBUS_TOPIC_ORDER_EVENTS_DLQ: dlq,
    ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
  };
  const cli = (args: string[], input?: string) => runCli(args, { env, ...(input ? { input } : {}) });
  const json = async <T>(args: string[], code = 0, input?: string): Promise<T> => {
    const r = await cli([...args, '--json'], input);
    expect(r.code, r.stderr).toBe(code);
    return JSON.parse(r.stdout) as T;
  };
  return {
    ns,
    events,
    dlq,
    json,
    cursorTopic: cursorTopic({ ...config, topics: { ...config.topics, audit: env.ORDERBUS_TOPIC_AUDIT } }),
  };
}

async function readAll(topic: string): Promise<KafkaRecord[]> {
  const reader = new KafkaLogReader(kafka);
  try {
    const marks = await admin.fetchTopicOffsets(topic);
    const out: KafkaRecord[] = [];
    for (const m of marks) out.push(...(await reader.readAll(topic, m.partition, 0, Number(m.high))));
    return out;
  } finally {
    await reader.close();
  }
}

beforeAll(async () => {
  await sharedKafka4();
  admin = await connectAdmin(config);
}, 180_000);
afterAll(async () => {
  const topics = (await admin.listTopics()).filter((t) => namespaces.some((ns) => t.startsWith(`${ns}.`)));
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  // The codec registered the event schemas under the namespaces' topics.
  const subjects = (await (await fetch(`${config.registry.url}/subjects`)).json()) as string[];
  for (const s of subjects.filter((x) => namespaces.some((ns) => x.startsWith(`${ns}.`))))
    await fetch(`${config.registry.url}/subjects/${encodeURIComponent(s)}`, { method: 'DELETE' });
});

describe(`orderbus dlq on Kafka ${KAFKA_4}`, () => {
  it('lists and shows dead letters, redrives the valid ones (exit 4), keeps them handled through the cursor, then purges', async () => {
    const t = target('k4dlq');
    await createTopicsAndWait(
      admin,
      [t.events, t.dlq].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    );
    const [a, b] = await Promise.all([eventLetter(config, t.events), eventLetter(config, t.events)]);
    await sendLetters(kafka, t.dlq, [a, garbageLetter(t.events), b]);

    const listed = await t.json<DlqSummary[]>(['dlq', 'list']);
    // The target is this broker and the registry: the stack's RabbitMQ is no part of it.
    expect(new Set(listed.map((d) => d.kind))).toEqual(new Set(['kafka']));
    expect(listed.find((d) => d.name === t.dlq)).toMatchObject({
      kind: 'kafka',
      count: 3,
      byClass: { TransientExhausted: 2, UndecodableRecord: 1 },
    });
    const shown = await t.json<DlqMessage[]>(['dlq', 'show', t.dlq]);
    expect(shown.map((m) => [m.id, m.orderId, m.decodeError === null])).toEqual([
      ['0:0', a.key, true],
      ['0:1', 'garbage', false],
      ['0:2', b.key, true],
    ]);
    expect((shown[0]?.payload as { data: unknown }).data).toEqual({ reason: 'card declined' });

    const plan = await t.json<RedriveResult>(['dlq', 'redrive', t.dlq]);
    expect(plan).toMatchObject({ execute: false, toRedrive: 2, invalid: 1, redriven: 0 });
    expect(await readAll(t.events)).toEqual([]);
    const done = await t.json<RedriveResult>(['dlq', 'redrive', t.dlq, '--execute'], 4);
    expect(done).toMatchObject({ redriven: 2, invalid: 1, remaining: 1 });
    const back = await readAll(t.events);
    expect(back.map((r) => [r.key?.toString(), r.headers[KafkaDlqHeaders.redriveCount]])).toEqual([
      [a.key, '1'],
      [b.key, '1'],
    ]);

    // The cursor: the first letter not handled (the undecodable one), the one past it redriven.
    const cursors = (await readAll(t.cursorTopic)).filter((r) => r.key?.toString() === `${t.dlq}/0`);
    expect(JSON.parse(cursors.at(-1)?.value?.toString() ?? '{}')).toEqual({
      v: 1,
      next: 1,
      handled: [[2, 2]],
    });
    const group = await admin.fetchOffsets({ groupId: cursorGroup(t.dlq), topics: [t.dlq] });
    expect(group[0]?.partitions.map((p) => Number(p.offset))).toEqual([1]);
    expect((await t.json<DlqMessage[]>(['dlq', 'show', t.dlq])).map((m) => m.id)).toEqual(['0:1']);
    expect((await t.json<DlqSummary[]>(['dlq', 'list'])).find((d) => d.name === t.dlq)?.count).toBe(1);
    const again = await t.json<RedriveResult>(['dlq', 'redrive', t.dlq, '--execute'], 4);
    expect(again).toMatchObject({ redriven: 0, invalid: 1, remaining: 1 });
    expect(await readAll(t.events)).toHaveLength(2);

    expect(await t.json<PurgeResult>(['dlq', 'purge', t.dlq])).toMatchObject({ execute: false, count: 1 });
    const purged = await t.json<PurgeResult>(['dlq', 'purge', t.dlq, '--execute'], 0, `${t.dlq}\n`);
    expect(purged).toMatchObject({ execute: true, count: 1 });
    expect(await t.json<DlqMessage[]>(['dlq', 'show', t.dlq])).toEqual([]);
    expect((await t.json<DlqSummary[]>(['dlq', 'list'])).find((d) => d.name === t.dlq)?.count).toBe(0);
  }, 120_000);
});

describe(`orderbus trace on Kafka ${KAFKA_4}`, () => {
  it("follows one order through its events, its dead letter and each group's position", async () => {
    const t = target('k4trace');
    await createTopicsAndWait(admin, [
      { topic: t.events, numPartitions: 3, replicationFactor: 1 },
      { topic: t.dlq, numPartitions: 1, replicationFactor: 1 },
    ]);
    const letter = await eventLetter(config, t.events);
    const orderId = letter.key;
    const codec = EventCodec.fromConfig(config, t.events);
    const order = { eventId: randomUUID(), orderId, correlationId: randomUUID() };
    const events = [
      nextEvent(order, 'payment.captured', 'test', { chargeId: 'ch-1', amountCents: 1200 }),
      nextEvent({ ...order, orderId: randomUUID() }, 'payment.captured', 'test', {
        chargeId: 'ch-2',
        amountCents: 1,
      }),
      nextEvent(order, 'payment.refunded', 'test', { refundId: 'rf-1', amountCents: 1200 }),
    ];
    const producer = kafka.producer();
    await producer.connect();
    const sent = [];
    for (const e of events)
      sent.push(
        ...(await producer.send({
          topic: t.events,
          acks: -1,
          messages: [{ key: e.orderId, value: await codec.encode(e), headers: eventHeaders(e) }],
        })),
      );
    await producer.disconnect();
    await sendLetters(kafka, t.dlq, [letter]);
    // A group that has seen the order's first event but not its second.
    const partition = sent[0]?.partition ?? -1;
    const second = Number(sent[2]?.baseOffset);
    const group = `${t.ns}.payment`;
    await admin.setOffsets({
      groupId: group,
      topic: t.events,
      partitions: [{ partition, offset: String(second) }],
    });

    const r = await t.json<TraceResult>(['trace', orderId]);
    expect(r).toMatchObject({ orderId, topic: t.events, partition });
    expect(r.entries.filter((e) => e.source === 'kafka').map((e) => e.what)).toEqual([
      'payment.captured',
      'payment.refunded',
    ]);
    expect(r.entries.find((e) => e.source === 'kafka-dlq')).toMatchObject({
      where: `${t.dlq} 0:0`,
      what: 'dead letter: TransientExhausted',
    });
    expect(r.groups).toEqual([
      { group, committed: second, unseen: [{ offset: second, type: 'payment.refunded' }] },
    ]);
    expect(r.unavailable.map((u) => u.source).sort()).toEqual(['postgres', 'rabbitmq']);
  }, 90_000);
});

import { execFile } from 'node:child_process';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient, partitionForKey } from '../../src/adapters/kafka.js';
import { KafkaLogReader, type KafkaRecord } from '../../src/adapters/kafka-fetch.js';
import { loadConfig } from '../../src/config.js';
import type { DlqMessage, DlqSummary, RedriveResult } from '../../src/ops/dlq/index.js';
import { runCli } from '../support/cli.js';
import { sendLetters } from '../support/kafka-dead-letters.js';
import { kafkaToolArgs } from '../support/kafka-tools.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

/**
 * Dead letters other applications wrote, through the real CLI: RabbitMQ's own dead-lettering of a
 * message a plain amqplib consumer rejected or let expire, a Kafka Connect DLQ record written by
 * Apache's console producer, and a Spring Kafka DLT record. Each is listed and shown with its
 * failure class and redriven to where it came from.
 */
const config = loadConfig();
const ns = testNamespace('foreign');
const env = { ORDERBUS_TOPIC_AUDIT: `${ns}.audit` };
const json = <T>(s: string): T => JSON.parse(s) as T;

async function cliJson<T>(args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
  const r = await runCli([...args, '--json'], { env: { ...env, ...extraEnv } });
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  return json<T>(r.stdout);
}

describe('RabbitMQ dead letters made by RabbitMQ itself (x-death)', () => {
  const work = `${ns}.billing.invoices`;
  const reminders = `${ns}.billing.reminders`;
  const exchange = `${ns}.billing`;
  const dlx = `${ns}.billing.dlx`;
  // Not named like a DLQ: found because the work queues dead-letter into it.
  const dead = `${ns}.billing.invoices.dead-letters`;
  let conn: amqp.ChannelModel;
  let ch: amqp.Channel;

  beforeAll(async () => {
    conn = await amqp.connect(config.rabbitmq.url);
    ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
    await ch.assertExchange(dlx, 'fanout', { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { durable: false });
    await ch.bindQueue(dead, dlx, '');
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.bindQueue(work, exchange, 'invoice.created');
    await ch.assertQueue(reminders, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 1 },
    });
  });

  afterAll(async () => {
    for (const q of [work, reminders, dead]) await ch.deleteQueue(q).catch(() => undefined);
    for (const e of [exchange, dlx]) await ch.deleteExchange(e).catch(() => undefined);
    await conn.close();
  });

  it('lists and shows them as rabbitmq:rejected / rabbitmq:expired with count and time, and redrives to the queue they died on', async () => {
    // Another application's consumer rejects two invoices (nack, requeue=false); a reminder expires.
    for (const id of ['inv-1', 'inv-2'])
      ch.publish(exchange, 'invoice.created', Buffer.from(JSON.stringify({ invoiceId: id })), {
        messageId: id,
        headers: { tenant: 'eu-1' },
      });
    let rejected = 0;
    await waitUntil('both invoices rejected by their consumer', async () => {
      const m = await ch.get(work, { noAck: false });
      if (m) ch.nack(m, false, false);
      return (rejected += m ? 1 : 0) === 2;
    });
    ch.sendToQueue(reminders, Buffer.from(JSON.stringify({ reminder: 'r-1' })), { messageId: 'r-1' });
    await waitUntil('three dead letters', async () => (await ch.checkQueue(dead)).messageCount === 3);

    const listed = await cliJson<DlqSummary[]>(['dlq', 'list']);
    expect(listed.find((d) => d.name === dead)).toMatchObject({
      kind: 'rabbitmq',
      count: 3,
      byClass: { 'rabbitmq:rejected': 2, 'rabbitmq:expired': 1 },
    });

    const shown = await cliJson<DlqMessage[]>(['dlq', 'show', dead]);
    expect(shown.map((m) => [m.id, m.errorClass])).toEqual([
      ['inv-1', 'rabbitmq:rejected'],
      ['inv-2', 'rabbitmq:rejected'],
      ['r-1', 'rabbitmq:expired'],
    ]);
    expect(shown[0]).toMatchObject({
      format: 'rabbitmq',
      reason: 'rejected',
      attempts: 1,
      origin: { broker: 'rabbitmq', queue: work, exchange, routingKeys: ['invoice.created'] },
      destination: `(default)/${work}`,
    });
    expect(Date.now() - Date.parse(shown[0]!.lastFailureAt!)).toBeLessThan(5 * 60_000);
    expect(shown[2]?.destination).toBe(`(default)/${reminders}`);
    const expired = await cliJson<DlqMessage[]>([
      'dlq',
      'show',
      dead,
      '--filter',
      'reason=expired && count=1',
    ]);
    expect(expired.map((m) => m.id)).toEqual(['r-1']);

    const r = await cliJson<RedriveResult>([
      'dlq',
      'redrive',
      dead,
      '--filter',
      `originalQueue="${work}"`,
      '--execute',
    ]);
    expect(r).toMatchObject({ selected: 2, redriven: 2, failed: 0, invalid: 0 });
    // Back on the queue they died on (and only there), bytes and headers as they were.
    const back: amqp.GetMessage[] = [];
    await waitUntil('both invoices back on their queue', async () => {
      const m = await ch.get(work, { noAck: true });
      if (m) back.push(m);
      return back.length === 2;
    });
    expect(back.map((m) => m.content.toString()).sort()).toEqual(
      ['inv-1', 'inv-2'].map((id) => JSON.stringify({ invoiceId: id })),
    );
    expect(back[0]?.properties.headers?.tenant).toBe('eu-1');
    expect((await ch.checkQueue(reminders)).messageCount).toBe(0);
    expect((await ch.checkQueue(dead)).messageCount).toBe(1);
  }, 120_000);
});

describe('Kafka dead letters written by Spring Kafka and Kafka Connect', () => {
  const kafka = kafkaClient(config, ns);
  const springOrigin = `${ns}.payments.requests`;
  const springDlt = `${springOrigin}.DLT`;
  const connectOrigin = `${ns}.orders.v1`;
  const connectDlq = `${ns}.orders-sink-dlt`;
  const topics = [springOrigin, springDlt, connectOrigin, connectDlq, `${ns}.audit`, `${ns}.dlq-cursor`];

  beforeAll(async () => {
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [
      { topic: springOrigin, numPartitions: 3, replicationFactor: 1 },
      { topic: springDlt, numPartitions: 1, replicationFactor: 1 },
      { topic: connectOrigin, numPartitions: 1, replicationFactor: 1 },
      { topic: connectDlq, numPartitions: 1, replicationFactor: 1 },
    ]);
    await admin.disconnect();
  });

  afterAll(async () => {
    const admin = await connectAdmin(config);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin
      .deleteGroups([`orderbus-dlq.${springDlt}`, `orderbus-dlq.${connectDlq}`])
      .catch(() => undefined);
    await admin.disconnect();
  });

  async function readAll(topic: string, partition: number): Promise<KafkaRecord[]> {
    const reader = new KafkaLogReader(kafka);
    try {
      return await reader.readAll(topic, partition, 0, Number.MAX_SAFE_INTEGER);
    } finally {
      await reader.close();
    }
  }

  it('shows each with its exception class and redrives it to its original topic (Spring: and partition)', async () => {
    // Kafka Connect's DLQ headers are all text: written with Apache's own console producer.
    const connectValue = JSON.stringify({ orderId: 'o-1', status: 'PAID', totalCents: 4999 });
    const headers = [
      `__connect.errors.topic:${connectOrigin}`,
      '__connect.errors.partition:0',
      '__connect.errors.offset:30017',
      '__connect.errors.connector.name:orders-sink',
      '__connect.errors.stage:VALUE_CONVERTER',
      '__connect.errors.exception.class.name:org.apache.kafka.connect.errors.DataException',
      '__connect.errors.exception.message:Converting byte[] to Kafka Connect data failed',
    ].join(',');
    const producerClass = config.stack.kafkaVersion.startsWith('3.')
      ? 'kafka.tools.ConsoleProducer' // Kafka 3.x ships it in core (Scala); 4.x in tools
      : 'org.apache.kafka.tools.ConsoleProducer';
    const producerArgs = await kafkaToolArgs(config, producerClass, [
      '--bootstrap-server',
      config.kafka.brokers.join(','),
      '--topic',
      connectDlq,
      '--producer-property',
      'acks=all',
      '--property',
      'parse.headers=true',
      '--property',
      'parse.key=true',
    ]);
    const child = execFile('java', producerArgs, { timeout: 60_000 });
    child.stdin?.end(`${headers}\to-1\t${connectValue}\n`);
    await new Promise<void>((resolve, reject) =>
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`console producer exit ${code}`)),
      ),
    );

    // Spring's original partition (4 bytes) and offset and timestamp (8 bytes) are big-endian
    // binary values that cannot be typed on a console: written with kafkajs, as raw Buffers.
    const int32 = (n: number) => Buffer.from([0, 0, 0, n]);
    const int64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(n));
      return b;
    };
    // A key that the default partitioner puts elsewhere: the redrive must follow the header, not the key.
    const key = ['k0', 'k1', 'k2', 'k3'].find((k) => partitionForKey(k, 3) !== 2) as string;
    const springValue = JSON.stringify({ orderId: 'o-2', amountCents: 4999, currency: 'XXX' });
    await sendLetters(kafka, springDlt, [
      {
        key,
        value: springValue,
        headers: {
          __TypeId__: 'com.example.payments.PaymentRequested',
          'kafka_dlt-exception-fqcn': 'org.springframework.kafka.listener.ListenerExecutionFailedException',
          'kafka_dlt-exception-cause-fqcn': 'java.lang.IllegalArgumentException',
          'kafka_dlt-exception-message': "unknown currency 'XXX'",
          'kafka_dlt-original-topic': springOrigin,
          'kafka_dlt-original-partition': int32(2),
          'kafka_dlt-original-offset': int64(48213),
          'kafka_dlt-original-timestamp': int64(Date.now() - 60_000),
          'kafka_dlt-original-consumer-group': 'payments-service',
        },
      },
    ]);

    // Both found by the default patterns (*.DLT, *-dlt), counted under the exception's simple name.
    const listed = await cliJson<DlqSummary[]>(['dlq', 'list']);
    expect(listed.find((d) => d.name === springDlt)).toMatchObject({
      kind: 'kafka',
      count: 1,
      byClass: { IllegalArgumentException: 1 },
      source: springOrigin,
    });
    expect(listed.find((d) => d.name === connectDlq)).toMatchObject({
      count: 1,
      byClass: { DataException: 1 },
    });
    const narrowed = await cliJson<DlqSummary[]>(['dlq', 'list'], {
      ORDERBUS_DLQ_KAFKA_PATTERNS: `${ns}.*-dlt`,
      ORDERBUS_DLQ_RABBIT_PATTERNS: `${ns}.none`,
    });
    expect(narrowed.filter((d) => d.name.startsWith(ns)).map((d) => d.name)).toEqual([connectDlq]);

    const [spring] = await cliJson<DlqMessage[]>(['dlq', 'show', springDlt]);
    expect(spring).toMatchObject({
      format: 'spring-kafka',
      errorClass: 'IllegalArgumentException',
      errorMessage: "unknown currency 'XXX'",
      origin: {
        broker: 'kafka',
        topic: springOrigin,
        partition: 2,
        offset: 48213,
        group: 'payments-service',
      },
      destination: springOrigin,
      decodeError: null,
    });
    const [connect] = await cliJson<DlqMessage[]>([
      'dlq',
      'show',
      connectDlq,
      '--filter',
      'errorClass=DataException',
    ]);
    expect(connect).toMatchObject({
      format: 'kafka-connect',
      errorMessage: 'Converting byte[] to Kafka Connect data failed',
      origin: { topic: connectOrigin, partition: 0, offset: 30017 },
      payload: { orderId: 'o-1' },
    });

    for (const dlq of [springDlt, connectDlq])
      expect(await cliJson<RedriveResult>(['dlq', 'redrive', dlq, '--execute'])).toMatchObject({
        redriven: 1,
        invalid: 0,
        remaining: 0,
      });
    // The original records again: same key and value bytes, the other headers kept, no failure headers.
    const [back] = await readAll(springOrigin, 2);
    expect(back?.key?.toString()).toBe(key);
    expect(back?.value?.toString()).toBe(springValue);
    expect(back?.headers.__TypeId__).toBe('com.example.payments.PaymentRequested');
    expect(Object.keys(back?.headers ?? {}).filter((h) => h.startsWith('kafka_dlt-'))).toEqual([]);
    const [again] = await readAll(connectOrigin, 0);
    expect(again?.value?.toString()).toBe(connectValue);
    expect(again?.key?.toString()).toBe('o-1');
    expect(Object.keys(again?.headers ?? {}).filter((h) => h.startsWith('__connect.'))).toEqual([]);
    expect(await cliJson<DlqMessage[]>(['dlq', 'show', springDlt])).toEqual([]);
  }, 180_000);
});

describe('dlq redrive --set', () => {
  it('refuses __proto__ (exit 2) before touching anything', async () => {
    const r = await runCli(['dlq', 'redrive', 'whatever.dlq', '--set', '__proto__.x=1', '--execute'], {
      env,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[BAD_PATH]');
    expect(r.stderr).toContain('__proto__');
  });
});

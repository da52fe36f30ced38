import type { GetMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../src/adapters/kafka-fetch.js';
import type { EventCodec } from '../../src/events/codec.js';
import { parseFilter } from '../../src/ops/dlq/edits.js';
import { failureClass } from '../../src/ops/dlq/failure.js';
import { filterView, kafkaView, rabbitDestination, rabbitView } from '../../src/ops/dlq/message-view.js';
import type { DlqMessage } from '../../src/ops/dlq/types.js';
import {
  deadLetterSample,
  deadLetterSamples,
  type DeadLetterSample,
} from '../support/dead-letter-samples.js';

// Each sample in fixtures/dead-letters/ read as the brokers hand it over: the failure class,
// reason, count, time and origin its own writer's headers give, and where a redrive sends it.
/** The record as the log reader returns it: binary headers as bytes, their text as UTF-8. */
function asRecord(s: DeadLetterSample): KafkaRecord {
  const raw: Record<string, Buffer[]> = {};
  for (const [k, v] of Object.entries(s.headers))
    raw[k] = [
      typeof v === 'object' && v !== null && 'base64' in v
        ? Buffer.from((v as { base64: string }).base64, 'base64')
        : Buffer.from(String(v)),
    ];
  const k = s.kafka!;
  return {
    topic: s.dlq,
    partition: k.partition,
    offset: k.offset,
    timestamp: Date.parse(k.timestamp),
    key: k.key === null ? null : Buffer.from(k.key),
    value: Buffer.from(JSON.stringify(s.value.json)),
    headers: Object.fromEntries(Object.entries(raw).map(([n, b]) => [n, b[0]!.toString('utf8')])),
    rawHeaders: raw,
  };
}

/** The message as amqplib hands it over (x-death timestamps as `{ "!": "timestamp", value }`). */
function asAmqp(s: DeadLetterSample): GetMessage {
  const headers = JSON.parse(
    JSON.stringify(s.headers, (k, v: unknown) =>
      k === 'time' && typeof v === 'number' ? { '!': 'timestamp', value: v } : v,
    ),
  ) as Record<string, unknown>;
  const p = s.rabbitmq!.properties;
  return {
    content: Buffer.from(JSON.stringify(s.value.json)),
    fields: { exchange: s.rabbitmq!.exchange, routingKey: s.rabbitmq!.routingKey },
    properties: { headers, messageId: p.message_id, contentType: p.content_type },
  } as unknown as GetMessage;
}

// Only orderbus's own Kafka letters are registry-framed; the others never reach the codec.
const codec = {
  decode: () => Promise.reject(new Error('not in the wire format')),
} as unknown as EventCodec;

async function view(format: string): Promise<DlqMessage> {
  const s = deadLetterSample(format);
  return s.broker === 'kafka' ? kafkaView(codec, s.dlq, asRecord(s)) : rabbitView(s.dlq, asAmqp(s), 0);
}

describe('foreign dead letters, read from their own headers', () => {
  it('holds a sample of every format read here', () => {
    expect(
      deadLetterSamples()
        .map((d) => d.file)
        .sort(),
    ).toEqual(
      [
        'kafka-connect-dlq',
        'orderbus-kafka',
        'orderbus-rabbitmq',
        'rabbitmq-x-death',
        'spring-kafka-dlt',
      ].map((f) => `${f}.json`),
    );
  });

  it('RabbitMQ x-death: rabbitmq:rejected, count, time, and back to the queue it died on', async () => {
    const m = await view('rabbitmq-x-death');
    expect(m).toMatchObject({
      format: 'rabbitmq',
      errorClass: 'rabbitmq:rejected',
      reason: 'rejected',
      attempts: 1,
      lastFailureAt: '2026-11-30T23:02:11.000Z',
      firstFailureAt: '2026-11-30T23:02:11.000Z',
      origin: {
        broker: 'rabbitmq',
        queue: 'billing.invoices',
        exchange: 'billing',
        routingKeys: ['invoice.created'],
      },
      destination: '(default)/billing.invoices',
      id: 'inv-2026-118734',
      decodeError: null,
    });
    expect(failureClass(m)).toBe('rabbitmq:rejected');
    // The engine reads the destination from the view's text headers (x-death as JSON there).
    expect(rabbitDestination(m.headers, m.dlq)).toEqual({ exchange: '', routingKey: 'billing.invoices' });
  });

  it('RabbitMQ x-death: the most recent death names the queue, reasons expired, maxlen and delivery_limit', async () => {
    const s = deadLetterSample('rabbitmq-x-death');
    for (const reason of ['expired', 'maxlen', 'delivery_limit']) {
      s.headers['x-death'] = [
        { count: 3, reason, queue: 'work', time: 1796079800, exchange: 'ex', 'routing-keys': ['k'] },
        {
          count: 1,
          reason: 'expired',
          queue: 'delay',
          time: 1796079700,
          exchange: '',
          'routing-keys': ['delay'],
        },
      ];
      const m = rabbitView(s.dlq, asAmqp(s), 0);
      expect(m).toMatchObject({ errorClass: `rabbitmq:${reason}`, reason, attempts: 3 });
      expect(m.origin).toMatchObject({ queue: 'work' });
      expect(m.firstFailureAt).toBe(new Date(1796079700_000).toISOString());
      expect(m.destination).toBe('(default)/work');
    }
  });

  it('Spring Kafka: the cause class, message, binary partition and offset, back to the original topic', async () => {
    const m = await view('spring-kafka-dlt');
    expect(m).toMatchObject({
      format: 'spring-kafka',
      errorClass: 'IllegalArgumentException',
      origin: {
        broker: 'kafka',
        topic: 'payments.requests',
        partition: 7,
        offset: 48213,
        group: 'payments-service',
      },
      destination: 'payments.requests',
      decodeError: null,
      payload: { currency: 'XXX' },
    });
    expect(m.errorMessage).toContain("unknown currency 'XXX'");
    expect(m.lastFailureAt).toBe('2026-11-30T22:41:09.004Z');
  });

  it('Kafka Connect: the exception class, text partition and offset, back to the original topic', async () => {
    const m = await view('kafka-connect-dlq');
    expect(m).toMatchObject({
      format: 'kafka-connect',
      errorClass: 'DataException',
      origin: { broker: 'kafka', topic: 'orders.v1', partition: 2, offset: 30017 },
      destination: 'orders.v1',
      decodeError: null,
    });
    expect(m.errorMessage).toContain('schemas.enable');
  });

  it("orderbus's own letters read as before", async () => {
    const k = await view('orderbus-kafka');
    expect(k).toMatchObject({
      format: 'orderbus',
      errorClass: 'SchemaInvalid',
      attempts: 1,
      destination: 'order.events',
      origin: { topic: 'order.events', partition: 4, offset: 90321, group: 'saga' },
    });
    const r = await view('orderbus-rabbitmq');
    expect(r).toMatchObject({ format: 'orderbus', errorClass: 'HttpGone', statusCode: 410, attempts: 1 });
    expect(failureClass(r)).toBe('HttpGone (410)');
    expect(r.destination).toBe('orderbus.tasks/webhook.tasks');
  });

  it('--filter sees the class, reason, count and origin of every format', async () => {
    const all = await Promise.all(
      [
        'rabbitmq-x-death',
        'spring-kafka-dlt',
        'kafka-connect-dlq',
        'orderbus-kafka',
        'orderbus-rabbitmq',
      ].map(view),
    );
    const pick = (expr: string) => all.filter((m) => parseFilter(expr)(filterView(m))).map((m) => m.format);
    expect(pick('errorClass=rabbitmq:rejected')).toEqual(['rabbitmq']);
    expect(pick('reason=rejected && count=1 && originalQueue=billing.invoices')).toEqual(['rabbitmq']);
    expect(pick('originalTopic=payments.requests && originalPartition=7')).toEqual(['spring-kafka']);
    expect(pick('errorClass=DataException || failureClass="HttpGone (410)"')).toEqual([
      'kafka-connect',
      'orderbus',
    ]);
    expect(pick('format=orderbus && originalOffset>90000')).toEqual(['orderbus']);
  });
});

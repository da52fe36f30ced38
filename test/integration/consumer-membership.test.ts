import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import type { EventType } from '../../src/events/types.js';
import { EventConsumer } from '../../src/pipeline/event-consumer.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ label: 'membership', services: [], partitions: 1 });
});
afterAll(async () => {
  await p.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendEvent(orderId: string, type: EventType, data: Record<string, unknown>): Promise<void> {
  const codec = EventCodec.fromConfig(p.config);
  await codec.register();
  const e = nextEvent({ eventId: orderId, orderId, correlationId: orderId }, type, 'test', data);
  const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-${type}`));
  await producer.connect();
  await producer.send({
    topic: p.config.topics.orderEvents,
    acks: -1,
    messages: [{ key: orderId, value: await codec.encode(e), headers: eventHeaders(e) }],
  });
  await producer.disconnect();
}

describe('a batch consumer that left its group while handling (real Kafka)', () => {
  it('hands the batch on to the partition’s owner instead of dead-lettering it', async () => {
    const groupId = `${p.ns}.membership`;
    const orderId = randomUUID();
    const handled: string[] = [];
    let second: EventConsumer | undefined;
    const make = (name: string): EventConsumer =>
      new EventConsumer(
        p.config,
        { log: () => undefined },
        {
          name,
          groupId,
          types: ['payment.captured'],
          retryBatches: true,
          partitionsConsumedConcurrently: 1,
          fromBeginning: true,
          handleBatch: async (events, heartbeat) => {
            if (name === 'first') {
              // A second member joins: the group rebalances while this batch is in hand. The
              // heartbeats then fail until this member rejoins, which it cannot from in here.
              if (!second) {
                second = make('second');
                void second.start();
              }
              const until = Date.now() + 5000;
              while (Date.now() < until) {
                await heartbeat();
                await sleep(300);
              }
            }
            handled.push(...events.map((e) => `${name}:${e.orderId}`));
          },
        },
      );
    const first = make('first');
    await first.start();
    await sendEvent(orderId, 'payment.captured', { chargeId: 'ch', amountCents: 300 });
    try {
      await waitUntil(
        'the event handled or dead-lettered',
        () =>
          handled.some((h) => h.endsWith(orderId)) || first.deadLettered + (second?.deadLettered ?? 0) > 0,
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      expect(first.deadLettered + (second?.deadLettered ?? 0)).toBe(0);
      expect(handled.filter((h) => h.endsWith(orderId)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([first.stop(), second?.stop()]);
    }
  }, 180_000);

  it('stays in its group through a handler call longer than the session timeout (handled once)', async () => {
    // A provider answering only at its timeout (payment-timeout's fault) held a batch longer than
    // the drill's 10 s session: the member was dropped mid-batch and the batch handled twice.
    const config = { ...p.config, kafka: { ...p.config.kafka, sessionTimeoutMs: 6000 } };
    const groupId = `${p.ns}.long-handler`;
    const orderId = randomUUID();
    const calls: string[] = [];
    const consumer = new EventConsumer(
      config,
      { log: () => undefined },
      {
        name: 'long-handler',
        groupId,
        types: ['payment.refunded'],
        retryBatches: true,
        partitionsConsumedConcurrently: 1,
        fromBeginning: true,
        handleBatch: async (events) => {
          calls.push(...events.map((e) => e.orderId));
          // No heartbeat from the handler: 2.5 session timeouts on one call.
          if (calls.length === 1) await sleep(15_000);
        },
      },
    );
    await consumer.start();
    await sendEvent(orderId, 'payment.refunded', { refundId: 're', amountCents: 300 });
    const kafka = kafkaClient(p.config, `${p.ns}-long-handler`);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitUntil(
        'the record handled and its offset committed',
        async () => {
          const [t] = await admin.fetchOffsets({
            groupId: `${p.config.kafka.groupPrefix}${groupId}`,
            topics: [p.config.topics.orderEvents],
          });
          return (t?.partitions ?? []).some((x) => Number(x.offset) > 0);
        },
        { timeoutMs: 90_000, intervalMs: 300 },
      );
      expect(calls).toEqual([orderId]);
    } finally {
      await admin.disconnect();
      await consumer.stop();
    }
  }, 150_000);
});

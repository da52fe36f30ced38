import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
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
    const codec = EventCodec.fromConfig(p.config);
    await codec.register();
    const e = nextEvent({ eventId: orderId, orderId, correlationId: orderId }, 'payment.captured', 'test', {
      chargeId: 'ch',
      amountCents: 300,
    });
    const producer = idempotentProducer(kafkaClient(p.config, `${p.ns}-membership`));
    await producer.connect();
    await producer.send({
      topic: p.config.topics.orderEvents,
      acks: -1,
      messages: [{ key: orderId, value: await codec.encode(e), headers: eventHeaders(e) }],
    });
    await producer.disconnect();
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
});

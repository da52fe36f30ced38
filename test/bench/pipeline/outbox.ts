import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import {
  connectAdmin,
  createTopicsAndWait,
  idempotentProducer,
  kafkaClient,
} from '../../../src/adapters/kafka.js';
import { percentileOf, sampleOrder } from '../../../src/devstack/load/load.js';
import { nextEvent } from '../../../src/events/codec.js';
import { EventHeaders } from '../../../src/events/types.js';
import { appendOutbox } from '../../../src/pipeline/outbox.js';
import { startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import { waitUntil } from '../../support/wait.js';
import type { Benchmark, Sample } from '../harness.js';
import { atRate } from './pacing.js';
import { spawnOrderbus, supervisedBenchmark } from './processes.js';
import { RUNS } from './settings.js';

/**
 * outbox: commit → broker append. The topic uses LogAppendTime, so each record's timestamp is the
 * broker's own append time (the ack follows it with acks=all on this cluster). Reference: the same
 * rows sent straight from a kafkajs idempotent producer (acks=all) — the floor without an outbox.
 */

const OUTBOX_RATE = 200;
const OUTBOX_MS = 10_000;
const cmd = 'npm run bench -- outbox';

function outboxEvent(): ReturnType<typeof nextEvent> {
  const orderId = randomUUID();
  const o = sampleOrder('normal', Math.floor(Math.random() * 1e6)) as Record<string, unknown> & {
    items: { quantity: number; unitPriceCents: number }[];
  };
  return nextEvent({ eventId: orderId, orderId, correlationId: orderId }, 'order.placed', 'checkout', {
    customerId: o.customerId,
    email: o.email,
    items: o.items,
    totalCents: o.items.reduce((s, i) => s + i.quantity * i.unitPriceCents, 0),
    currency: o.currency,
    shippingAddress: o.shippingAddress,
    paymentMethod: o.paymentMethod,
  });
}

async function inTx(p: TestPipeline, e: ReturnType<typeof nextEvent>): Promise<void> {
  const client = await p.db.pool.connect();
  try {
    await client.query('BEGIN');
    await appendOutbox(client, [e]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** Calls `one` OUTBOX_RATE times a second for OUTBOX_MS. */
const paced = (one: () => Promise<void>) =>
  atRate(OUTBOX_RATE, OUTBOX_MS, (n) => Promise.all(Array.from({ length: n }, one)));

export function outboxBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  let refTopic = '';
  const appended = new Map<string, number>();
  let stopConsumer: (() => Promise<void>) | undefined;
  return supervisedBenchmark({
    name: 'outbox',
    description: `outbox row commit → Kafka append (LogAppendTime) through \`orderbus run --service outbox-relay\`: ${OUTBOX_RATE} rows/s for ${OUTBOX_MS / 1000} s, one row per transaction (like checkout); reference: the same events produced directly (kafkajs idempotent producer, acks=all)`,
    runs: RUNS,
    async setup() {
      p = await startTestPipeline({ label: 'bench-outbox', partitions: 4 });
      refTopic = `${p.ns}.bench.direct`;
      const admin = await connectAdmin(p.config);
      await createTopicsAndWait(admin, [{ topic: refTopic, numPartitions: 4, replicationFactor: 1 }]);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [p.config.topics.orderEvents, refTopic].map((name) => ({
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        })),
      });
      await admin.disconnect();
      const consumer = kafkaClient(p.config, `${p.ns}-bench`).consumer({ groupId: `${p.ns}.bench` });
      await consumer.connect();
      await consumer.subscribe({ topics: [p.config.topics.orderEvents, refTopic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const id = message.headers?.[EventHeaders.eventId]?.toString();
          if (id) appended.set(id, Number(message.timestamp));
        },
      });
      const config = p.config;
      stopConsumer = async () => {
        await consumer.disconnect();
        await connectAdmin(config).then(async (a) => {
          await a.deleteTopics({ topics: [refTopic] }).catch(() => undefined);
          await a.disconnect();
        });
      };
      spawnOrderbus(p, ['run', '--service', 'outbox-relay']);
      // Warm: one row through the relay.
      const e = outboxEvent();
      await inTx(p, e);
      await waitUntil('the relay to publish a first row', () => appended.has(e.eventId), {
        timeoutMs: 60_000,
      });
    },
    async cleanup() {
      await stopConsumer?.();
      await p?.stop();
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const pipe = p;
      const committed = new Map<string, number>();
      await paced(async () => {
        const e = outboxEvent();
        await inTx(pipe, e);
        committed.set(e.eventId, Date.now());
      });
      const producer = idempotentProducer(kafkaClient(pipe.config, `${pipe.ns}-bench-direct`));
      await producer.connect();
      // Warm: metadata and the producer id, as the relay has them after its first batch.
      await producer.send({ topic: refTopic, acks: -1, messages: [{ value: 'warm' }] });
      const sent = new Map<string, number>();
      await paced(async () => {
        const e = outboxEvent();
        sent.set(e.eventId, Date.now());
        await producer.send({
          topic: refTopic,
          acks: -1,
          messages: [
            { key: e.orderId, value: JSON.stringify(e), headers: { [EventHeaders.eventId]: e.eventId } },
          ],
        });
      });
      await producer.disconnect();
      const all = [...committed.keys(), ...sent.keys()];
      await waitUntil('every row to reach Kafka', () => all.every((id) => appended.has(id)), {
        timeoutMs: 60_000,
      });
      const delays = (m: Map<string, number>) =>
        [...m].map(([id, t]) => (appended.get(id) ?? 0) - t).sort((a, b) => a - b);
      const ours = delays(committed);
      const direct = delays(sent);
      const fig = (q: number): Sample => ({
        metric: `outbox commit → broker append p${q} at ${OUTBOX_RATE} rows/s`,
        value: percentileOf(ours, q),
        unit: 'ms',
        better: 'lower',
        reference: { name: `direct produce p${q}`, value: percentileOf(direct, q) },
        resolution: 1,
        command: cmd,
      });
      return [fig(50), fig(99)];
    },
  });
}

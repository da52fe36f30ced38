import { idempotentProducer, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';

/**
 * One stage of the e2e benchmark's reference: the four hops an order takes between checkout and
 * `shipping.created` (payment, inventory, shipping, saga), as bare kafkajs consumers that read
 * their event type and produce the next one (idempotent producer, acks=all) — no PostgreSQL, no
 * providers, no schema registry. Run as its own process, like each pipeline service:
 *
 *   node dist/test/bench/kafka-chain.js STAGE TOPIC GROUP_PREFIX
 *
 * Prints `ready` once its consumer joined the group; the last stage prints `<orderId> <ms>` per
 * order, ms being the time since the order was produced.
 */
const NEXT: Record<string, [string, string | null]> = {
  payment: ['order.placed', 'payment.captured'],
  inventory: ['payment.captured', 'inventory.reserved'],
  shipping: ['inventory.reserved', 'shipping.created'],
  saga: ['shipping.created', null],
};

const [stage = '', topic = '', group = ''] = process.argv.slice(2);
const route = NEXT[stage];
if (!route || !topic || !group) {
  process.stderr.write(`usage: kafka-chain.js ${Object.keys(NEXT).join('|')} TOPIC GROUP_PREFIX\n`);
  process.exit(2);
}
const [want, next] = route;
const config = loadConfig();
const kafka = kafkaClient(config, `${group}-${stage}`);
const producer = idempotentProducer(kafka);
await producer.connect();
const consumer = kafka.consumer({ groupId: `${group}.${stage}`, allowAutoTopicCreation: false });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('ready\n'));
await consumer.run({
  partitionsConsumedConcurrently: 12,
  eachBatch: async ({ batch }) => {
    const out: { key: Buffer | null; value: Buffer | null; headers: { type: string } }[] = [];
    const done: string[] = [];
    for (const m of batch.messages) {
      if (m.headers?.type?.toString() !== want) continue;
      if (next) out.push({ key: m.key, value: m.value, headers: { type: next } });
      else {
        const v = JSON.parse(m.value?.toString() ?? '{}') as { orderId: string; placedAt: number };
        done.push(`${v.orderId} ${Date.now() - v.placedAt}`);
      }
    }
    if (out.length > 0) await producer.send({ topic, acks: -1, messages: out });
    if (done.length > 0) process.stdout.write(`${done.join('\n')}\n`);
  },
});
process.once('SIGTERM', () => {
  void Promise.allSettled([consumer.disconnect(), producer.disconnect()]).then(() => process.exit(0));
});

import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { BatchProducer, type OutRecord } from '../../src/adapters/kafka-produce.js';
import { connectRabbit, managementApi } from '../../src/adapters/rabbitmq.js';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';
import { withOps, type OpsContext } from '../../src/ops/context.js';
import { browseDlq, listDlqs } from '../../src/ops/dlq/index.js';
import { DEAD_LETTER_SEARCH, traceOrder } from '../../src/ops/trace.js';
import { TaskHeaders } from '../../src/tasks/topology.js';
import { testNamespace } from '../support/namespace.js';

/**
 * A deep DLQ is read as far as the answer needs, never to its end: the first page of a Kafka DLQ
 * of 30,000 letters and its `dlq list` summary fetch a small part of it (counted at the log
 * reader, what came from the broker), and trace's search of a RabbitMQ DLQ deeper than its cap
 * reads the cap, says so, and leaves every letter where it was.
 */
const LETTERS = 30_000;
const base = loadConfig();
const ns = testNamespace('dlq-bounds');
const dlq = `${ns}.events.dlq`;
const vhost = ns;
let admin: Admin;

/** Records fetched from the broker through `ctx`'s log reader while `fn` runs. */
async function fetched<T>(ctx: OpsContext, fn: () => Promise<T>): Promise<{ value: T; records: number }> {
  const reader = ctx.reader();
  const readRange = reader.readRange.bind(reader);
  let records = 0;
  reader.readRange = async (...args) => {
    const n = await readRange(...args);
    if (args[0] === dlq) records += n;
    return n;
  };
  try {
    return { value: await fn(), records };
  } finally {
    reader.readRange = readRange;
  }
}

beforeAll(async () => {
  admin = kafkaClient(base, `${ns}-admin`).admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    { topic: dlq, numPartitions: 1, replicationFactor: base.topics.replicationFactor },
    { topic: `${ns}.events`, numPartitions: 3, replicationFactor: base.topics.replicationFactor },
  ]);
  // Small batches, as the pipeline's one-record sends make: a fetch returns what it asked for.
  const producer = new BatchProducer(kafkaClient(base, `${ns}-producer`));
  const at = Date.now() - 3_600_000;
  for (let from = 0; from < LETTERS; from += 50) {
    const batch: OutRecord[] = [];
    for (let i = from; i < from + 50; i++)
      batch.push({
        key: Buffer.from(randomUUID()),
        value: Buffer.from([1, 2, 3, 4]),
        timestamp: at + i,
        headers: [
          [KafkaDlqHeaders.originalTopic, `${ns}.events`],
          [KafkaDlqHeaders.errorClass, i % 2 ? 'UndecodableRecord' : 'SchemaInvalid'],
          [KafkaDlqHeaders.lastFailureAt, new Date(at + i).toISOString()],
        ],
      });
    await producer.send(dlq, 0, batch);
  }
  await producer.close();
}, 180_000);

afterAll(async () => {
  await admin.deleteTopics({ topics: [dlq, `${ns}.events`] }).catch(() => undefined);
  await admin.disconnect();
  await managementApi(base, `/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
});

describe('a Kafka DLQ of 30,000 letters', () => {
  it('shows its first page from one small fetch, not from reading the topic', async () => {
    await withOps(base, async (ctx) => {
      const { value: page, records } = await fetched(ctx, () => browseDlq(ctx, dlq, { limit: 20 }));
      expect(page.messages.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `0:${i}`));
      expect(page).toMatchObject({ count: LETTERS, read: 20, stopped: 'limit' });
      expect(records).toBeLessThanOrEqual(200);
    });
  });

  it('is listed from a sample spread over it (oldest and newest exact), not read whole', async () => {
    await withOps(base, async (ctx) => {
      const { value: list, records } = await fetched(ctx, () => listDlqs(ctx));
      const mine = list.find((d) => d.name === dlq);
      expect(mine).toMatchObject({ count: LETTERS, scanned: 5000 });
      expect(Object.values(mine?.byClass ?? {}).reduce((a, b) => a + b, 0)).toBe(5000);
      expect(Date.parse(mine?.newest ?? '') - Date.parse(mine?.oldest ?? '')).toBe(LETTERS - 1);
      expect(records).toBeLessThan(LETTERS / 2);
    });
  });

  it('with a filter that matches late, reads on and says how far', async () => {
    await withOps(base, async (ctx) => {
      const r = await browseDlq(ctx, dlq, { limit: 1, filter: 'errorClass=nothing' });
      expect(r).toMatchObject({ messages: [], count: LETTERS, read: LETTERS, stopped: 'end' });
      const capped = await browseDlq(ctx, dlq, { limit: 1, filter: 'errorClass=nothing', maxRead: 1000 });
      expect(capped).toMatchObject({ read: 1000, stopped: 'max-read' });
    });
  });
});

describe("trace's search of a RabbitMQ DLQ deeper than its cap", () => {
  it('reads the cap, finds the order in it, reports the command that reads the rest, and leaves every letter in place', async () => {
    const url = new URL(base.rabbitmq.url);
    url.pathname = `/${encodeURIComponent(vhost)}`;
    const config: OrderbusConfig = {
      ...base,
      rabbitmq: { ...base.rabbitmq, url: url.toString(), vhost },
      topics: { ...base.topics, orderEvents: `${ns}.events`, orderEventsDlq: dlq },
    };
    const user = decodeURIComponent(url.username || 'guest');
    await managementApi(base, `/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT' });
    await managementApi(base, `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, {
      method: 'PUT',
      body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }),
    });
    const queue = 'webhook.tasks.dlq';
    const total = DEAD_LETTER_SEARCH + 500;
    const conn = await connectRabbit(config, `${ns}-seed`);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    // The order's letter is the 101st, the others' orders are random.
    const orderId = randomUUID();
    for (let i = 0; i < total; i++)
      ch.sendToQueue(queue, Buffer.from(JSON.stringify({ kind: 'webhook', taskId: `t-${i}` })), {
        headers: {
          [TaskHeaders.taskId]: `t-${i}`,
          [TaskHeaders.orderId]: i === 100 ? orderId : randomUUID(),
        },
      });
    await ch.waitForConfirms();
    const t = await withOps(config, (ctx) => traceOrder(ctx, orderId));
    const found = t.entries.filter((e) => e.source === 'rabbitmq-dlq');
    expect(found).toHaveLength(1);
    expect(found[0]?.where.startsWith(`${queue} `)).toBe(true);
    const search = t.deadLetterSearch?.find((d) => d.dlq === queue);
    expect(search).toMatchObject({
      kind: 'rabbitmq',
      searched: DEAD_LETTER_SEARCH,
      total,
      complete: false,
      searchAll: `orderbus dlq show ${queue} --filter 'orderId=${orderId}'`,
    });
    // Nothing acked, nothing reordered: every letter, in the order it was sent (read off here).
    expect((await ch.checkQueue(queue)).messageCount).toBe(total);
    const order: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const onLetter = (m: ConsumeMessage | null) => {
        if (m) order.push(m.properties.headers?.[TaskHeaders.taskId]);
        if (order.length === total) resolve();
      };
      ch.consume(queue, onLetter, { noAck: true }).catch(reject);
    });
    expect(order).toEqual(Array.from({ length: total }, (_, i) => `t-${i}`));
    await ch.close();
    await conn.close();
  }, 120_000);
});

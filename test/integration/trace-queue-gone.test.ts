import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { connectRabbit, managementApi } from '../../src/adapters/rabbitmq.js';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
import { traceOrder } from '../../src/ops/trace.js';
import { TaskHeaders } from '../../src/tasks/topology.js';
import { testNamespace } from '../support/namespace.js';

/**
 * A RabbitMQ DLQ that another application deletes after trace listed it and before trace read it
 * (the management API's listing and the browse are two requests) held none of the order's letters:
 * the trace is complete, not one with an unavailable source. The listing here is RabbitMQ's own;
 * only the moment of the deletion is chosen, by deleting the queue as the listing returns.
 */
const base = loadConfig();
const ns = testNamespace('trace-gone');
const vhost = ns;
const gone = 'email.tasks.dlq';
const kept = 'webhook.tasks.dlq';
let admin: Admin;
let deleted = 0;

const url = new URL(base.rabbitmq.url);
url.pathname = `/${encodeURIComponent(vhost)}`;
const config: OrderbusConfig = {
  ...base,
  rabbitmq: { ...base.rabbitmq, url: url.toString(), vhost },
  topics: { ...base.topics, orderEvents: `${ns}.events`, orderEventsDlq: `${ns}.events.dlq` },
};

vi.mock('../../src/ops/queues.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/ops/queues.js')>();
  return {
    ...real,
    listQueues: async (...args: Parameters<typeof real.listQueues>) => {
      const listed = await real.listQueues(...args);
      if (listed.some((q) => q.name === gone)) {
        const conn = await connectRabbit(config, `${ns}-other-app`);
        const ch = await conn.createChannel();
        await ch.deleteQueue(gone);
        await conn.close();
        deleted++;
      }
      return listed;
    },
  };
});

beforeAll(async () => {
  admin = kafkaClient(base, `${ns}-admin`).admin();
  await admin.connect();
  await createTopicsAndWait(
    admin,
    [config.topics.orderEvents, config.topics.orderEventsDlq].map((topic) => ({
      topic,
      numPartitions: 1,
      replicationFactor: base.topics.replicationFactor,
    })),
  );
  const user = decodeURIComponent(url.username || 'guest');
  await managementApi(base, `/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT' });
  await managementApi(base, `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, {
    method: 'PUT',
    body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }),
  });
}, 60_000);

afterAll(async () => {
  await admin
    .deleteTopics({ topics: [config.topics.orderEvents, config.topics.orderEventsDlq] })
    .catch(() => undefined);
  await admin.disconnect();
  await managementApi(base, `/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
});

describe('trace while a RabbitMQ DLQ is deleted under it', () => {
  it('skips the queue that is gone, reads the others, and reports no source unavailable', async () => {
    const orderId = randomUUID();
    const conn = await connectRabbit(config, `${ns}-seed`);
    const ch = await conn.createConfirmChannel();
    for (const q of [gone, kept]) {
      await ch.assertQueue(q, { durable: true });
      ch.sendToQueue(q, Buffer.from(JSON.stringify({ kind: 'webhook', taskId: `${q}-1` })), {
        headers: { [TaskHeaders.taskId]: `${q}-1`, [TaskHeaders.orderId]: orderId },
      });
    }
    await ch.waitForConfirms();
    await conn.close();

    const t = await withOps(config, (ctx) => traceOrder(ctx, orderId));
    expect(deleted).toBe(1);
    expect(t.unavailable).toEqual([]);
    expect(t.entries.filter((e) => e.source === 'rabbitmq-dlq').map((e) => e.where.split(' ')[0])).toEqual([
      kept,
    ]);
    expect(t.deadLetterSearch?.map((s) => s.dlq)).toContain(kept);
  }, 60_000);
});

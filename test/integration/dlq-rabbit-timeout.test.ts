import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedriveResult } from '../../src/ops/dlq/index.js';
import { declareTaskTopology, dlqName } from '../../src/tasks/topology.js';
import { startDrillRabbit, type DrillRabbit } from '../support/chaos-stack.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';

/**
 * A rate-limited redrive outlives RabbitMQ's consumer_timeout: on a private node that closes a
 * channel holding a delivery unacknowledged for more than 3 s (checked every second), a redrive
 * at 5 letters/s of 40 letters (8 s) finishes, because it never holds one longer than it needs.
 */
const AMQP_PORT = 5697;
let rabbit: DrillRabbit | undefined;

beforeAll(async () => {
  rabbit = await startDrillRabbit(AMQP_PORT, {
    conf: ['consumer_timeout = 3000'],
    advanced: '[{rabbit, [{channel_tick_interval, 1000}]}].\n',
  });
}, 180_000);
afterAll(async () => {
  await rabbit?.stop();
}, 90_000);

describe('dlq redrive --rate past consumer_timeout', () => {
  it('redrives every letter at 5/s for 8 s on a node whose consumer_timeout is 3 s', async () => {
    const ns = testNamespace('timeout');
    const url = rabbit!.env.ORDERBUS_RABBITMQ_URL ?? '';
    const conn = await amqp.connect(url);
    try {
      const setup = await conn.createChannel();
      const t = await declareTaskTopology(setup, { prefix: `${ns}.`, retryDelaysMs: [200] });
      const target = t.queues['webhook.tasks'];
      const dlq = dlqName(target);
      const ch = await conn.createConfirmChannel();
      for (let i = 0; i < 41; i++) {
        const taskId = `${ns}-task-${i}`;
        const task = { kind: 'webhook', taskId, orderId: `o-${i}`, url: 'http://127.0.0.1:1/h', payload: {} };
        ch.publish('', dlq, Buffer.from(JSON.stringify(task)), {
          persistent: true,
          headers: {
            'x-task-id': taskId,
            'x-original-exchange': t.taskExchange,
            'x-original-routing-key': target,
            'x-error-class': 'HttpGone',
          },
        });
      }
      await ch.waitForConfirms();

      // The node does enforce the timeout: a consumer sitting on one delivery loses its channel.
      const holder = await conn.createChannel();
      holder.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => {
        const t0 = Date.now();
        holder.on('close', () => resolve(Date.now() - t0));
      });
      await holder.prefetch(1);
      await holder.consume(dlq, () => undefined, { noAck: false });
      expect(await closed).toBeLessThan(15_000);

      const env = {
        ...rabbit!.env,
        ORDERBUS_RABBIT_PREFIX: `${ns}.`,
        ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
      };
      const r = await runCli(['dlq', 'redrive', dlq, '--execute', '--rate', '5', '--json'], {
        env,
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout) as RedriveResult).toMatchObject({ redriven: 41, failed: 0, remaining: 0 });
      expect((await setup.checkQueue(target)).messageCount).toBe(41);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }, 120_000);
});

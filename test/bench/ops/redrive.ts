import { connectRabbit } from '../../../src/adapters/rabbitmq.js';
import { TaskHeaders } from '../../../src/tasks/topology.js';
import type { Benchmark, Sample } from '../harness.js';
import { amqpPublishConfirmLoop } from '../references.js';
import { config, peakRss, runId, timedOrderbus } from './timed.js';

/** redrive: `orderbus dlq redrive --fix-url … --execute`, against an amqplib publish-with-confirms loop. */

const REDRIVE_N = Number(process.env.ORDERBUS_BENCH_REDRIVE ?? 50_000);
const target = `bench-redrive-${runId}.tasks`;
const dlq = `${target}.dlq`;

async function fillDlq(n: number): Promise<void> {
  const conn = await connectRabbit(config, 'bench-fill');
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(target, { durable: true });
  await ch.assertQueue(dlq, { durable: true });
  for (let i = 0; i < n; i++) {
    const task = {
      kind: 'webhook',
      taskId: `bench-${i}`,
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      url: 'http://127.0.0.1:8094/hooks/v1/orders',
      payload: { event: 'order.paid', orderId: `o-${i}` },
    };
    ch.sendToQueue(dlq, Buffer.from(JSON.stringify(task)), {
      persistent: true,
      headers: {
        [TaskHeaders.taskId]: task.taskId,
        [TaskHeaders.originalExchange]: '',
        [TaskHeaders.originalRoutingKey]: target,
        [TaskHeaders.errorClass]: 'HttpGone',
        [TaskHeaders.statusCode]: 410,
        [TaskHeaders.attempt]: 1,
      },
    });
    if ((i + 1) % 1000 === 0) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await ch.purgeQueue(target);
  await conn.close();
}

export const redriveBench: Benchmark = {
  name: 'redrive',
  description: `\`orderbus dlq redrive --fix-url … --execute\` of ${REDRIVE_N.toLocaleString('en-US')} RabbitMQ dead letters with publisher confirms, against a plain amqplib publish-with-confirms loop`,
  runs: 3,
  async teardown() {
    const conn = await connectRabbit(config, 'bench-clean');
    const ch = await conn.createChannel();
    await ch.deleteQueue(target).catch(() => undefined);
    await ch.deleteQueue(dlq).catch(() => undefined);
    await conn.close().catch(() => undefined);
  },
  async run(): Promise<Sample[]> {
    await fillDlq(REDRIVE_N);
    const r = await timedOrderbus([
      'dlq',
      'redrive',
      dlq,
      '--fix-url',
      'http://127.0.0.1:8094/hooks/v1=http://127.0.0.1:8094/hooks/v2',
      '--execute',
      '--json',
    ]);
    const result = JSON.parse(r.stdout) as { redriven: number; remaining: number };
    if (result.redriven !== REDRIVE_N || result.remaining !== 0)
      throw new Error(`redrive moved ${result.redriven} of ${REDRIVE_N}, ${result.remaining} left`);
    const body = Buffer.from(
      JSON.stringify({
        kind: 'webhook',
        taskId: 'x'.repeat(20),
        url: 'http://127.0.0.1:8094/hooks/v2/orders',
      }),
    );
    const reference = await amqpPublishConfirmLoop(config, `bench-ref-${runId}`, REDRIVE_N, body);
    const conn = await connectRabbit(config, 'bench-clean');
    const ch = await conn.createChannel();
    await ch.purgeQueue(target);
    await conn.close();
    return [
      {
        metric: `dlq redrive --execute, ${REDRIVE_N} messages (wall, edits + validation + confirm + ack)`,
        value: REDRIVE_N / r.seconds,
        unit: 'msg/s',
        better: 'higher',
        reference: { name: 'amqplib publish + confirms loop', value: reference },
        goal: '≥ 25 % of the reference',
        command: `orderbus dlq redrive ${dlq} --fix-url OLD=NEW --execute --json`,
      },
      peakRss('dlq redrive', r, '/usr/bin/time -f %M orderbus dlq redrive …'),
    ];
  },
};

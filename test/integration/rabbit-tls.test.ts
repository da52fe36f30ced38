import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import type { DlqMessage, DlqSummary } from '../../src/ops/dlq/index.js';
import type { QueueInfo } from '../../src/ops/queues.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import { ConfirmedPublisher } from '../../src/tasks/publisher.js';
import { dlqName } from '../../src/tasks/topology.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';
import { startTlsRabbit, type TlsRabbit } from '../support/tls-rabbit.js';

/**
 * RabbitMQ reached over TLS with a private CA (rabbitmq.tlsCaFile): the dispatcher's publisher,
 * orderbus queues and dlq list|show on a private node whose AMQP (amqps://) and management API
 * (https://) both present a certificate of that CA; with another CA they fail with
 * RABBITMQ_TLS_FAILED and a hint naming rabbitmq.tlsCaFile.
 */
const AMQP_PORT = 5693;
const ns = testNamespace('rtls');
let rabbit: TlsRabbit;
let env: Record<string, string>;
let config: OrderbusConfig;

beforeAll(async () => {
  rabbit = await startTlsRabbit(AMQP_PORT);
  env = { ...rabbit.env, ORDERBUS_RABBIT_PREFIX: `${ns}.` };
  config = loadConfig({ env: { ...process.env, ...env } });
}, 180_000);
afterAll(async () => {
  await rabbit?.stop();
}, 90_000);

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCli(args, { env: { ...env, ...extra }, timeoutMs: 90_000 });

describe('RabbitMQ over TLS with a private CA', () => {
  it("the dispatcher's publisher publishes over amqps; queues and dlq list|show read over TLS", async () => {
    const publisher = new ConfirmedPublisher(config, `${ns}-dispatcher`, () => undefined);
    const queue = publisher.topology.queues['webhook.tasks'];
    const dlq = dlqName(queue);
    try {
      const task = {
        kind: 'webhook' as const,
        taskId: `${ns}-t1`,
        orderId: 'o-1',
        url: 'http://127.0.0.1:1/h',
        payload: {},
      };
      await publisher.publishAll([toMessage(publisher.topology, task)]);
    } finally {
      await publisher.close();
    }
    const conn = await connectRabbit(config, `${ns}-setup`);
    try {
      const ch = await conn.createConfirmChannel();
      expect((await ch.checkQueue(queue)).messageCount).toBe(1);
      const letter = {
        kind: 'webhook',
        taskId: `${ns}-dead`,
        orderId: 'o-9',
        url: 'http://127.0.0.1:1/h',
        payload: {},
      };
      ch.publish('', dlq, Buffer.from(JSON.stringify(letter)), {
        persistent: true,
        headers: {
          'x-task-id': letter.taskId,
          'x-original-exchange': publisher.topology.taskExchange,
          'x-original-routing-key': queue,
          'x-error-class': 'HttpGone',
        },
      });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }

    // The management API's queue figures lag behind by its statistics interval.
    const listed = await waitUntil('queues shows the dead letter', async () => {
      const r = await cli(['queues', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const q = (JSON.parse(r.stdout) as QueueInfo[]).find((x) => x.name === queue);
      return q?.dlqDepth === 1 && q.ready === 1 ? q : undefined;
    });
    expect(listed).toMatchObject({ role: 'work', dlq, dlqDepth: 1, ready: 1 });

    const dlqs = await cli(['dlq', 'list', '--json']);
    expect(dlqs.code, dlqs.stderr).toBe(0);
    expect((JSON.parse(dlqs.stdout) as DlqSummary[]).find((d) => d.name === dlq)).toMatchObject({
      kind: 'rabbitmq',
      count: 1,
    });
    const shown = await cli(['dlq', 'show', dlq, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as DlqMessage[]).map((m) => [m.orderId, m.errorClass])).toEqual([
      ['o-9', 'HttpGone'],
    ]);
  });

  it('an unknown CA fails AMQP and the management API with RABBITMQ_TLS_FAILED naming rabbitmq.tlsCaFile', async () => {
    const other = { ORDERBUS_AMQP_TLS_CA_FILE: rabbit.otherCaFile };
    await expect(
      connectRabbit(loadConfig({ env: { ...process.env, ...env, ...other } }), `${ns}-other-ca`),
    ).rejects.toMatchObject({
      code: 'RABBITMQ_TLS_FAILED',
      retriable: false,
      message: expect.stringMatching(
        /^RabbitMQ at 127\.0\.0\.1:5683 refused the TLS connection: .*certificate/,
      ),
      hint: expect.stringContaining('check rabbitmq.tlsCaFile of the configuration'),
    });
    for (const args of [['queues'], ['dlq', 'list']]) {
      const r = await cli(args, other);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(
        /error\[RABBITMQ_TLS_FAILED\]: the RabbitMQ management API at 127\.0\.0\.1:15683 refused the TLS connection/,
      );
      expect(r.stderr).toMatch(/hint: check rabbitmq\.tlsCaFile of the configuration/);
      expect(r.stderr).not.toContain('guest:guest');
    }
  });
});

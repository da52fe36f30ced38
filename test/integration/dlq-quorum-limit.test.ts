import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../src/adapters/rabbitmq.js';
import { loadConfig } from '../../src/config.js';
import type { DlqMessage } from '../../src/ops/dlq/index.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';

/**
 * A quorum DLQ with a delivery limit (its own argument, or a policy's, as RabbitMQ 4 sets 20 on
 * every quorum queue): each browse gives every letter back, which the queue counts as a delivery,
 * and a letter returned past the limit is dropped. Browsing must never be what loses a letter.
 */
const config = loadConfig();
const ns = testNamespace('qlimit');
const vhost = encodeURIComponent(config.rabbitmq.vhost);
const json = <T>(s: string): T => JSON.parse(s) as T;

let conn: amqp.ChannelModel;
let ch: amqp.ConfirmChannel;

beforeAll(async () => {
  conn = await amqp.connect(config.rabbitmq.url);
  ch = await conn.createConfirmChannel();
});

afterAll(async () => {
  await managementApi(config, `/policies/${vhost}/${ns}-limit`, { method: 'DELETE' }).catch(() => undefined);
  await conn.close();
});

/** A quorum queue holding letters l0…l4, declared with `args`. */
async function quorumDlq(name: string, args: Record<string, unknown>): Promise<string[]> {
  await ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum', ...args } });
  const ids = Array.from({ length: 5 }, (_, i) => `l${i}`);
  for (const id of ids)
    ch.sendToQueue(name, Buffer.from(JSON.stringify({ invoiceId: id })), {
      messageId: id,
      persistent: true,
      headers: { tenant: 'eu-1' },
    });
  await ch.waitForConfirms();
  return ids;
}

async function show(name: string): Promise<DlqMessage[]> {
  const r = await runCli(['dlq', 'show', name, '--limit', '10', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return json<DlqMessage[]>(r.stdout);
}

describe('browsing a quorum DLQ with a delivery limit', () => {
  it("shows every letter on every browse, past the queue's own limit of 2", async () => {
    const name = `${ns}.invoices.dlq`;
    const ids = await quorumDlq(name, { 'x-delivery-limit': 2 });
    try {
      for (let run = 0; run < 5; run++) {
        expect((await show(name)).map((m) => m.id)).toEqual(ids);
        expect((await ch.checkQueue(name)).messageCount, `after browse ${run + 1}`).toBe(5);
      }
      // The letters are intact: the payload and the application's headers went along.
      const m = await ch.get(name, { noAck: true });
      expect(m && JSON.parse(m.content.toString())).toEqual({ invoiceId: 'l0' });
      expect(m && m.properties.headers).toMatchObject({ tenant: 'eu-1' });
    } finally {
      await ch.deleteQueue(name);
    }
  });

  it("keeps them under a policy's limit of 1, and through a redrive dry run", async () => {
    const name = `${ns}.refunds.dlq`;
    await managementApi(config, `/policies/${vhost}/${ns}-limit`, {
      method: 'PUT',
      body: JSON.stringify({
        pattern: `^${ns.replace(/[.-]/g, '\\$&')}\\.refunds\\.dlq$`,
        definition: { 'delivery-limit': 1 },
        'apply-to': 'queues',
        priority: 10,
      }),
    });
    const ids = await quorumDlq(name, {});
    try {
      for (let run = 0; run < 3; run++) {
        expect((await show(name)).map((m) => m.id)).toEqual(ids);
        const dry = await runCli(['dlq', 'redrive', name, '--json']);
        expect(dry.code, dry.stderr).toBe(0);
        expect(json<{ selected: number }>(dry.stdout).selected).toBe(5);
        expect((await ch.checkQueue(name)).messageCount, `after round ${run + 1}`).toBe(5);
      }
    } finally {
      await ch.deleteQueue(name);
    }
  });
});

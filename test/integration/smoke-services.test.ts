import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { createRegistry, SchemaType } from '../../src/adapters/registry.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';
import { runCli } from '../support/cli.js';

const config = loadConfig();

describe('RabbitMQ, registry and the stack command against the real components', () => {
  it('publishes with confirms and consumes with manual acks', async () => {
    const ns = testNamespace('smoke');
    const conn = await connectRabbit(config, ns);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(ns, { durable: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue(ns, Buffer.from(String(i)), { persistent: true });
    await ch.waitForConfirms();
    const got: number[] = [];
    await ch.consume(ns, (m) => {
      if (!m) return;
      got.push(Number(m.content.toString()));
      ch.ack(m);
    });
    await waitUntil('50 messages consumed', () => got.length === 50);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await ch.deleteQueue(ns);
    await conn.close();
  });

  it('registers, encodes and decodes through the registry and rejects an incompatible change', async () => {
    const registry = createRegistry(config);
    const subject = `${testNamespace('smoke')}-value`;
    const v1 = { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] };
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(v1) },
      { subject },
    );
    const encoded = await registry.encode(id, { orderId: 'o-1' });
    expect(encoded[0]).toBe(0); // Confluent wire format magic byte
    expect(await registry.decode(encoded)).toEqual({ orderId: 'o-1' });
    await expect(registry.encode(id, { orderId: 42 })).rejects.toThrow();
    const incompatible = {
      ...v1,
      properties: { ...v1.properties, total: { type: 'integer' } },
      required: ['orderId', 'total'],
    };
    await expect(
      registry.register({ type: SchemaType.JSON, schema: JSON.stringify(incompatible) }, { subject }),
    ).rejects.toThrow(/ncompatib/);
    await fetch(`${config.registry.url}/subjects/${subject}`, { method: 'DELETE' });
  });

  it('orderbus stack status --json reports every component up', async () => {
    const r = await runCli(['stack', 'status', '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout) as {
      healthy: boolean;
      components: { name: string; status: string; version?: string }[];
    };
    expect(status.healthy).toBe(true);
    expect(status.components.map((c) => [c.name, c.status]).sort()).toEqual([
      ['kafka', 'up'],
      ['postgres', 'up'],
      ['rabbitmq', 'up'],
      ['registry', 'up'],
    ]);
    const kafka = status.components.find((c) => c.name === 'kafka') as {
      controller?: number;
      brokers?: unknown[];
    };
    expect(kafka.controller).toBeGreaterThanOrEqual(1);
    expect(kafka.brokers?.length).toBeGreaterThanOrEqual(1);
  });

  it('a second stack up changes nothing', async () => {
    const r = await runCli(['stack', 'up', '--json'], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { changed: string[] }).changed).toEqual([]);
  });

  it('an unreachable broker fails fast with a code and a hint', async () => {
    const r = await runCli(['stack', 'status', '--json'], {
      env: {
        ORDERBUS_RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:1',
        ORDERBUS_RABBITMQ_URL: 'amqp://127.0.0.1:1',
      },
    });
    expect(r.code).toBe(1);
    const status = JSON.parse(r.stdout) as { components: { name: string; status: string }[] };
    expect(status.components.find((c) => c.name === 'rabbitmq')?.status).toBe('down');
  });

  it('a bad config value names the key and the expected form, exit 2', async () => {
    const r = await runCli(['stack', 'status'], { env: { ORDERBUS_KAFKA_BROKERS: 'not a broker' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /error\[CONFIG_INVALID\]: config kafka\.brokers from \$ORDERBUS_KAFKA_BROKERS: expected host:port/,
    );
    expect(r.stderr).toMatch(/hint: /);
  });
});

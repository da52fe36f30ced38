import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { EventCodec, eventHeaders, nextEvent } from '../../src/events/codec.js';
import type { StatusReport } from '../../src/ops/status.js';
import { runCli, type CliResult } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';
import { startRegistryTlsProxy, type RegistryTlsProxy } from '../support/registry-tls-proxy.js';

/**
 * The stack's real schema registry reached as a registry orderbus did not start: over https with
 * a private CA and basic auth (a proxy in front of it), through contexts of a config file. The
 * health check (status) and the codec must use the same credentials and CA; a wrong password or
 * an unknown CA fails with its own code and hint, and no output shows the password.
 */
const ns = testNamespace('regtls');
const topic = `${ns}.events`;
const PASSWORD = `pw-${ns}`;
const WRONG = `wrong-${ns}`;
let proxy: RegistryTlsProxy;
let configFile: string;

beforeAll(async () => {
  proxy = await startRegistryTlsProxy(loadConfig().registry.url, PASSWORD);
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-registry-config-'));
  writeFileSync(join(dir, 'registry.pw'), `${PASSWORD}\n`);
  const registry = (extra: Record<string, unknown>) => ({
    registry: { url: proxy.url, username: proxy.username, caFile: proxy.caFile, ...extra },
  });
  configFile = join(dir, 'orderbus.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      currentContext: 'secured',
      contexts: {
        secured: registry({ passwordFile: 'registry.pw' }),
        'wrong-password': registry({ passwordEnv: 'REGISTRY_TEST_WRONG_PW' }),
        'unknown-ca': registry({ passwordFile: 'registry.pw', caFile: proxy.otherCaFile }),
      },
    }),
  );
  const admin = await connectAdmin(loadConfig(), `${ns}-setup`);
  try {
    await createTopicsAndWait(admin, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
  } finally {
    await admin.disconnect();
  }
}, 120_000);

afterAll(async () => {
  const admin = await connectAdmin(loadConfig(), `${ns}-teardown`);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  await proxy?.stop();
});

const cli = (args: string[]) =>
  runCli(['--config', configFile, ...args], { env: { REGISTRY_TEST_WRONG_PW: WRONG }, timeoutMs: 90_000 });

function expectNoSecret(r: CliResult): void {
  for (const secret of [PASSWORD, WRONG]) expect(r.stdout + r.stderr).not.toContain(secret);
}

async function registryStatus(context: string) {
  const r = await cli(['--context', context, 'status', '--json']);
  expectNoSecret(r);
  const report = JSON.parse(r.stdout) as StatusReport;
  return { report, registry: report.components.find((c) => c.name === 'registry') };
}

const config = (context: string) =>
  loadConfig({ file: configFile, context, env: { ...process.env, REGISTRY_TEST_WRONG_PW: WRONG } });
const order = () => ({ eventId: randomUUID(), orderId: randomUUID(), correlationId: randomUUID() });
const captured = () =>
  nextEvent(order(), 'payment.captured', 'test', { chargeId: 'ch-1', amountCents: 1200 });

describe('a schema registry behind TLS (private CA) and basic auth', () => {
  it('status reports it up through the context with its credentials and CA', async () => {
    const { registry } = await registryStatus('secured');
    expect(registry).toMatchObject({ status: 'up', address: proxy.url });
  });

  it('status reports a wrong password as down (auth) and an unknown CA as down (tls)', async () => {
    const wrong = await registryStatus('wrong-password');
    expect(wrong.registry).toMatchObject({ status: 'down', reason: 'auth' });
    expect(wrong.report.problems.join('\n')).toMatch(/registry is down \(auth\): 401/);
    const unknown = await registryStatus('unknown-ca');
    expect(unknown.registry).toMatchObject({ status: 'down', reason: 'tls' });
    expect(unknown.registry?.detail).toMatch(/certificate/);
  });

  it('the codec encodes and decodes through it, and orderbus read decodes the record', async () => {
    const codec = EventCodec.fromConfig(config('secured'), topic);
    const e = captured();
    const value = await codec.encode(e);
    expect(await EventCodec.fromConfig(config('secured'), topic).decode(value)).toEqual(e);
    const producer = kafkaClient(loadConfig(), `${ns}-producer`).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: e.orderId, value, headers: eventHeaders(e) }] });
    await producer.disconnect();

    const read = await cli(['read', topic, '--last', '1', '--json']);
    expectNoSecret(read);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout.trim())).toMatchObject({ decoded: e });

    const refused = await cli(['--context', 'wrong-password', 'read', topic, '--last', '1', '--json']);
    expectNoSecret(refused);
    expect((JSON.parse(refused.stdout.trim()) as { decodeError: string }).decodeError).toMatch(
      /^error\[REGISTRY_AUTH_FAILED\].*hint: check registry\.username and registry\.password of context wrong-password/,
    );
  });

  it('a wrong password fails encode and decode with REGISTRY_AUTH_FAILED, never as a poison record', async () => {
    const value = await EventCodec.fromConfig(config('secured'), topic).encode(captured());
    const wrong = config('wrong-password');
    const refused = {
      code: 'REGISTRY_AUTH_FAILED',
      retriable: false,
      message: expect.stringContaining(`the schema registry at ${proxy.url} refused the credentials`),
      hint: 'check registry.username and registry.password of context wrong-password (orderbus context show, orderbus config), then orderbus status',
    };
    await expect(EventCodec.fromConfig(wrong, topic).encode(captured())).rejects.toMatchObject(refused);
    await expect(EventCodec.fromConfig(wrong, topic).decode(value)).rejects.toMatchObject(refused);
  });

  it('an unknown CA fails encode and decode with REGISTRY_TLS_FAILED naming registry.caFile', async () => {
    const value = await EventCodec.fromConfig(config('secured'), topic).encode(captured());
    const unknown = config('unknown-ca');
    const refused = {
      code: 'REGISTRY_TLS_FAILED',
      message: expect.stringMatching(/refused the TLS connection: .*certificate/),
      hint: expect.stringContaining('check registry.caFile of context unknown-ca'),
    };
    await expect(EventCodec.fromConfig(unknown, topic).encode(captured())).rejects.toMatchObject(refused);
    await expect(EventCodec.fromConfig(unknown, topic).decode(value)).rejects.toMatchObject(refused);
  });
});

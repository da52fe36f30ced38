import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
import { describeTarget, guardChange } from '../../src/ops/target.js';
import { runCli, type CliResult } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';
import { startSecuredKafka, type SecuredKafka } from '../support/secured-kafka.js';

/**
 * orderbus against a cluster it did not start, as real ones are secured: SASL_SSL with
 * SCRAM-SHA-512, a self-signed CA and client certificates, reached through a context of the
 * config file. Every CLI output is searched for the passwords.
 */
let k: SecuredKafka;
let configFile: string;
const ns = testNamespace('sec');
const topic = `${ns}.orders`;
const dlq = `${ns}.orders.dlq`;
const group = `${ns}-billing`;
const WRONG = `wrong-${ns}`;
const BAD_MECHANISM_PW = `mech-${ns}-pw`;

beforeAll(async () => {
  k = await startSecuredKafka(19792);
  const kafka = kafkaClient(k.config, `${ns}-setup`);
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    { topic, numPartitions: 1, replicationFactor: 1 },
    { topic: dlq, numPartitions: 1, replicationFactor: 1 },
  ]);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: [1, 2, 3].map((n) => ({ key: `o-${n}`, value: JSON.stringify({ n }) })),
  });
  await producer.send({ topic: dlq, messages: [{ key: 'o-9', value: JSON.stringify({ broken: true }) }] });
  await producer.disconnect();
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '1' }] });
  await admin.disconnect();

  const dir = mkdtempSync(join(tmpdir(), 'orderbus-secured-config-'));
  writeFileSync(join(dir, 'ops.pw'), `${k.password}\n`);
  const kafkaSettings = (sasl: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    kafka: {
      brokers: [k.broker],
      ssl: { caFile: k.caFile, certFile: k.certFile, keyFile: k.keyFile },
      sasl: { mechanism: 'scram-sha-512', username: k.username, ...sasl },
      ...extra,
    },
  });
  configFile = join(dir, 'orderbus.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      currentContext: 'secured',
      contexts: {
        secured: kafkaSettings({ passwordFile: 'ops.pw' }),
        'wrong-password': kafkaSettings({ passwordEnv: 'SECURED_TEST_WRONG_PW' }),
        pinned: kafkaSettings({ passwordFile: 'ops.pw' }, { clusterId: 'some-other-cluster-id' }),
        'read-only': { readOnly: true, ...kafkaSettings({ passwordFile: 'ops.pw' }) },
        'bad-mechanism': kafkaSettings({ mechanism: 'kerberos', password: BAD_MECHANISM_PW }),
      },
    }),
  );
}, 240_000);

afterAll(async () => {
  await k?.stop();
});

const cli = (args: string[]) =>
  runCli(['--config', configFile, ...args], { env: { SECURED_TEST_WRONG_PW: WRONG }, timeoutMs: 90_000 });

/** No secret of this test appears anywhere in what the CLI wrote. */
function expectNoSecret(r: CliResult): void {
  const all = r.stdout + r.stderr;
  for (const secret of [k.password, WRONG, BAD_MECHANISM_PW]) expect(all).not.toContain(secret);
}

describe('a SASL_SSL (SCRAM-SHA-512, self-signed CA, mTLS) cluster through a context', () => {
  it('orderbus lag --json reads the group through the secured context', async () => {
    const r = await cli(['lag', '--group', group, '--json']);
    expectNoSecret(r);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.stringify(JSON.parse(r.stdout));
    expect(report).toContain(group);
    expect(report).toContain(topic);
    expect(report).toMatch(/"lag":2\b/);
  });

  it('orderbus dlq list --json finds the dead-letter topic on the secured cluster', async () => {
    const r = await cli(['--context', 'secured', 'dlq', 'list', '--json']);
    expectNoSecret(r);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; kind: string; count: number }[];
    expect(list.find((d) => d.name === dlq)).toMatchObject({ kind: 'kafka', count: 1 });
  });

  it('a wrong password fails with exit 1, a code and a hint, and shows no password even with --verbose', async () => {
    const r = await cli(['--verbose', '--context', 'wrong-password', 'lag', '--group', group, '--json']);
    expectNoSecret(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error\[KAFKA_AUTH_FAILED\]: Kafka at 127\.0\.0\.1:19792 refused the authentication/,
    );
    expect(r.stderr).toMatch(/hint: check kafka\.sasl of context wrong-password/);
  });

  it('config, context show and a bad-config error never show a secret', async () => {
    for (const args of [
      ['config', '--json'],
      ['config'],
      ['--verbose', 'config', '--json'],
      ['context', 'show', '--json'],
      ['context', 'list'],
      ['--context', 'wrong-password', 'config', '--json'],
    ]) {
      const r = await cli(args);
      expectNoSecret(r);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const bad = await cli(['--verbose', '--context', 'bad-mechanism', 'config', '--json']);
    expectNoSecret(bad);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'error[CONFIG_INVALID]: config kafka.sasl.mechanism from context bad-mechanism',
    );
  });

  it('describeTarget names the context and the cluster id the brokers answer with', async () => {
    const config = loadConfig({ file: configFile, context: 'secured' });
    const target = await withOps(config, (ctx) => describeTarget(ctx));
    expect(target).toEqual({
      context: 'secured',
      bootstrapServers: [k.broker],
      clusterId: k.clusterId,
      readOnly: false,
    });
    expect(await withOps(config, (ctx) => guardChange(ctx))).toEqual(target);
  });

  it('guardChange refuses (exit 3) a pinned cluster id the brokers do not answer with, and a read-only context', async () => {
    const pinned = loadConfig({ file: configFile, context: 'pinned' });
    await expect(withOps(pinned, (ctx) => guardChange(ctx, 'reset offsets'))).rejects.toMatchObject({
      code: 'CLUSTER_MISMATCH',
      exitCode: 3,
      message: expect.stringContaining(
        `answer as cluster ${k.clusterId}, but context pinned pins kafka.clusterId some-other-cluster-id`,
      ),
      hint: expect.stringContaining('orderbus context show pinned'),
    });
    const readOnly = loadConfig({ file: configFile, context: 'read-only' });
    await expect(withOps(readOnly, (ctx) => guardChange(ctx, 'redrive'))).rejects.toMatchObject({
      code: 'CONTEXT_READ_ONLY',
      exitCode: 3,
      message: 'context read-only is read-only: refusing to redrive',
    });
  });
});

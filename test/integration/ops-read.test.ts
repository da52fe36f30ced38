import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { createRegistry, SchemaType } from '../../src/adapters/registry.js';
import { loadConfig } from '../../src/config.js';
import type { ReadRecord } from '../../src/ops/read.js';
import { projectRoot } from '../../src/paths.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

/**
 * `orderbus read TOPIC` against the real Kafka: records produced by kafkajs (timestamps one a
 * second, binary headers, registry-framed and binary values) and by kcat, read back by offset,
 * time and last-N ranges, key and filter, decoded, followed — and no consumer group made or moved.
 */
const config = loadConfig();
const ns = testNamespace('read');
const topic = `${ns}.events`;
const subject = `${ns}-value`;
const kafka = kafkaClient(config, ns);
const start = Date.now() - 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
let schemaId = 0;

const run = promisify(execFile);
const cli = (args: string[]) => runCli(['read', topic, ...args]);
async function lines(args: string[]): Promise<ReadRecord[]> {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ReadRecord);
}
const at = (rs: ReadRecord[]) => rs.map((r) => `${r.partition}@${r.offset}`);

beforeAll(async () => {
  const admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
  await admin.disconnect();
  const registry = createRegistry(config);
  schemaId = (
    await registry.register(
      {
        type: SchemaType.JSON,
        schema: JSON.stringify({ type: 'object', properties: { orderId: { type: 'string' } } }),
      },
      { subject },
    )
  ).id;
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 10 }, (_, i) => ({
      partition: 0,
      key: `k${i}`,
      value: JSON.stringify({ n: i }),
      timestamp: String(start + i * 1000),
      headers: { type: i % 2 === 1 ? 'A' : 'B', bin: Buffer.from([0xff, 0x00, i]) },
    })),
  });
  await producer.send({
    topic,
    acks: -1,
    messages: [
      { partition: 1, key: 'framed', value: await registry.encode(schemaId, { orderId: 'o-1' }) },
      { partition: 1, key: Buffer.from([0xc3, 0x28]), value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
    ],
  });
  await producer.disconnect();
  // kcat, as an on-call engineer would produce: key and header from its flags, a value a line.
  await run('sh', [
    '-c',
    `printf 'one\\ntwo\\n' | kcat -b ${config.kafka.brokers.join(',')} -P -t ${topic} -p 2 -k kc -H src=kcat`,
  ]);
}, 60_000);

afterAll(async () => {
  const admin = await connectAdmin(config);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  for (const q of ['', '?permanent=true'])
    await fetch(`${config.registry.url}/subjects/${subject}${q}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
});

describe('orderbus read', () => {
  it('reads an offset range of one partition, a time range, and the last N of every partition', async () => {
    expect(at(await lines(['--partition', '0', '--from-offset', '3', '--until', '6']))).toEqual([
      '0@3',
      '0@4',
      '0@5',
    ]);
    const byTime = await lines([
      '--partition',
      '0',
      '--from-time',
      iso(start + 2000),
      '--until',
      iso(start + 5000),
    ]);
    expect(at(byTime)).toEqual(['0@2', '0@3', '0@4']);
    expect(at(await lines(['--last', '1']))).toEqual(['0@9', '1@1', '2@1']);
    expect(at(await lines([]))).toHaveLength(14);
  }, 60_000);

  it('keeps only the records of a key, or matching a header and payload filter', async () => {
    expect(at(await lines(['--key', 'k7']))).toEqual(['0@7']);
    expect(at(await lines(['--filter', 'headers.type=A && payload.n>=5']))).toEqual(['0@5', '0@7', '0@9']);
    expect(at(await lines(['--filter', 'headers.src=kcat || key=framed']))).toEqual(['1@0', '2@0', '2@1']);
    expect(at(await lines(['--filter', 'payload.n~^[12]$', '--limit', '1']))).toEqual(['0@1']);
  }, 60_000);

  it('decodes registry-framed values, and shows bytes that are not text as base64', async () => {
    const [framed, binary] = await lines(['--partition', '1']);
    expect(framed).toMatchObject({
      key: 'framed',
      schemaId,
      decoded: { orderId: 'o-1' },
      valueEncoding: 'base64',
    });
    expect(binary).toMatchObject({
      key: Buffer.from([0xc3, 0x28]).toString('base64'),
      keyEncoding: 'base64',
      value: '3q2+7w==',
      valueEncoding: 'base64',
    });
    expect(binary?.decoded).toBeUndefined();
    const [p0] = await lines(['--partition', '0', '--last', '1']);
    expect(p0).toMatchObject({
      topic,
      partition: 0,
      offset: 9,
      timestamp: iso(start + 9000),
      key: 'k9',
      value: '{"n":9}',
      decoded: { n: 9 },
      headers: [
        { key: 'type', value: 'A', encoding: 'utf8' },
        { key: 'bin', value: Buffer.from([0xff, 0x00, 9]).toString('base64'), encoding: 'base64' },
      ],
    });
    const kcat = await lines(['--partition', '2']);
    expect(kcat.map((r) => [r.key, r.value, r.headers])).toEqual([
      ['kc', 'one', [{ key: 'src', value: 'kcat', encoding: 'utf8' }]],
      ['kc', 'two', [{ key: 'src', value: 'kcat', encoding: 'utf8' }]],
    ]);
    const human = await cli(['--partition', '1']);
    expect(human.stdout).toContain('{"orderId":"o-1"}');
    expect(human.stdout).toContain('base64:3q2+7w==');
  }, 60_000);

  it('follows new records until Ctrl-C, and joins no consumer group', async () => {
    const admin = await connectAdmin(config);
    const before = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'read', topic, '--partition', '2', '--follow', '--json'],
      {
        cwd: projectRoot(),
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      await waitUntil('the existing records', () => out.split('\n').length > 2, { timeoutMs: 20_000 });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ partition: 2, key: 'late', value: 'three' }] });
      await producer.disconnect();
      await waitUntil('the new record', () => out.includes('"three"'), { timeoutMs: 20_000 });
      // Groups other tests create meanwhile are theirs: none may hold offsets on this topic.
      const added = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !before.has(g));
      for (const groupId of added) {
        const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
        expect(offsets[0]?.partitions.filter((p) => Number(p.offset) >= 0) ?? [], groupId).toEqual([]);
      }
    } finally {
      child.kill('SIGINT');
      await admin.disconnect();
    }
    expect(await exited).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as ReadRecord).value),
    ).toEqual(['one', 'two', 'three']);
  }, 60_000);

  it('refuses two starts and an unknown partition before reading', async () => {
    const two = await cli(['--last', '2', '--from-offset', '0']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('error[READ_START]');
    const p = await cli(['--partition', '7']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('error[UNKNOWN_PARTITION]');
    const missing = await runCli(['read', `${topic}-missing`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error[UNKNOWN_TOPIC]');
  }, 60_000);
});

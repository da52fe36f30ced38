import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';
import { projectRoot } from '../../src/paths.js';
import type { LagReport } from '../../src/ops/lag.js';
import type { ResetResult } from '../../src/ops/offsets.js';
import type { ReplayResult } from '../../src/ops/replay.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

/**
 * `orderbus lag`, `offsets reset` and `replay` against the real Kafka, checked against Apache's
 * own ConsumerGroupCommand from the kafka-tools jars.
 */
const run = promisify(execFile);
const config = loadConfig();
const ns = testNamespace('ops');
const topic = `${ns}.events`;
const idle = `${ns}.idle`; // committed offsets, no members
const active = `${ns}.active`; // a live member that consumed everything
const env = { ORDERBUS_TOPIC_AUDIT: `${ns}.audit` };
let kafka: Kafka;
let consumer: Consumer | undefined;

interface ToolRow {
  topic: string;
  partition: number;
  current: number | null;
  end: number;
  lag: number | null;
  consumerId: string;
  host: string;
  clientId: string;
}

async function apacheDescribe(group: string): Promise<ToolRow[]> {
  const libs = await ensureKafkaJars(config.stack.kafkaVersion, () => undefined);
  const { stdout } = await run(
    'java',
    [
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
      '--bootstrap-server',
      config.kafka.brokers.join(','),
      '--describe',
      '--group',
      group,
    ],
    { timeout: 60_000 },
  );
  const nul = (s: string | undefined) => (s === undefined || s === '-' ? null : Number(s));
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[0] === group && c[1] === topic)
    .map((c) => ({
      topic: c[1] as string,
      partition: Number(c[2]),
      current: nul(c[3]),
      end: Number(c[4]),
      lag: nul(c[5]),
      consumerId: c[6] as string,
      host: c[7] as string,
      clientId: c[8] as string,
    }))
    .sort((a, b) => a.partition - b.partition);
}

async function lagJson(group: string): Promise<LagReport> {
  const r = await runCli(['lag', '--group', group, '--sample', '0', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as LagReport;
}

beforeAll(async () => {
  kafka = kafkaClient(config, ns);
  const admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
  const producer = kafka.producer();
  await producer.connect();
  const start = Date.now() - 60_000;
  for (const [partition, n] of [
    [0, 10],
    [1, 20],
    [2, 30],
  ] as const) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => ({
        partition,
        key: `k${i}`,
        value: `v${i}`,
        // one record per second, starting a minute ago: time ranges are checkable
        timestamp: String(start + i * 1000),
      })),
    });
  }
  await producer.disconnect();
  await admin.setOffsets({
    groupId: idle,
    topic,
    partitions: [
      { partition: 0, offset: '4' },
      { partition: 2, offset: '30' },
    ],
  });
  await admin.disconnect();
  consumer = kafka.consumer({ groupId: active });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachMessage: async () => {
      seen++;
    },
  });
  await waitUntil('the active group consumed and committed everything', async () => {
    if (seen < 60) return false;
    const a = await connectAdmin(config);
    const offs = await a.fetchOffsets({ groupId: active, topics: [topic] });
    await a.disconnect();
    return offs[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0) === 60;
  });
}, 120_000);

afterAll(async () => {
  await consumer?.disconnect();
  const admin = await connectAdmin(config);
  await admin.deleteGroups([idle, active, `${ns}.check`]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic, `${topic}.sandbox`, `${ns}.audit`] }).catch(() => undefined);
  await admin.disconnect();
});

describe('orderbus lag', () => {
  it("equals Apache's ConsumerGroupCommand --describe for a group without members", async () => {
    const apache = await apacheDescribe(idle);
    const ours = (await lagJson(idle)).groups[0];
    expect(ours?.group).toBe(idle);
    expect(ours?.state).toBe('Empty');
    expect(apache.length).toBe(2);
    const mine = ours?.partitions.filter((p) => p.topic === topic) ?? [];
    expect(
      mine.map((p) => ({ partition: p.partition, current: p.committed, end: p.logEnd, lag: p.lag })),
    ).toEqual(apache.map((a) => ({ partition: a.partition, current: a.current, end: a.end, lag: a.lag })));
    expect(ours?.totalLag).toBe(6);
    // Time lag: the oldest unconsumed record of partition 0 is record 4, written 56 s "later" than now-60s.
    const p0 = mine.find((p) => p.partition === 0);
    expect(p0?.timeLagMs).toBeGreaterThan(50_000);
    expect(mine.find((p) => p.partition === 2)?.timeLagMs).toBe(0);
  }, 90_000);

  it("equals Apache's tool for a live group, owners included", async () => {
    const apache = await apacheDescribe(active);
    const ours = (await lagJson(active)).groups[0];
    expect(ours?.state).toBe('Stable');
    expect(ours?.members).toBe(1);
    expect(apache.length).toBe(3);
    expect(
      ours?.partitions.map((p) => ({
        partition: p.partition,
        current: p.committed,
        end: p.logEnd,
        lag: p.lag,
        consumerId: p.owner?.memberId,
        host: p.owner?.host,
        clientId: p.owner?.clientId,
      })),
    ).toEqual(
      apache.map((a) => ({
        partition: a.partition,
        current: a.current,
        end: a.end,
        lag: a.lag,
        consumerId: a.consumerId,
        host: a.host,
        clientId: a.clientId,
      })),
    );
  }, 90_000);

  it('reports STOP for a group whose partitions have lag and nobody consuming, over a sampled window', async () => {
    const r = await runCli(['lag', '--group', idle, '--sample', '1', '--json'], { env });
    expect(r.code).toBe(0);
    const g = (JSON.parse(r.stdout) as LagReport).groups[0];
    expect(g?.partitions.find((p) => p.partition === 0)?.status).toBe('STOP');
    expect(g?.partitions.find((p) => p.partition === 2)?.status).toBe('OK');
    expect(g?.status).toBe('STOP');
    expect(g?.reasons.join(' ')).toContain('no consumer');
  });

  it('--watch --json streams one report per interval while the window fills', async () => {
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'lag', '--group', idle, '--watch', '1', '--json'],
      {
        env: { ...process.env, ...env },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitUntil('three reports', () => out.split('\n').filter((l) => l.trim()).length >= 3, {
      timeoutMs: 30_000,
    });
    child.kill('SIGINT');
    const reports = out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LagReport);
    expect(reports.map((r) => r.samples).slice(0, 3)).toEqual([1, 2, 3]);
    expect(reports[2]?.groups[0]?.status).toBe('STOP');
  }, 60_000);

  it('names an unknown group and its close matches, exit 1', async () => {
    const r = await runCli(['lag', '--group', `${idle}x`, '--sample', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[UNKNOWN_GROUP]');
    expect(r.stderr).toContain(idle);
    expect(r.stderr).toContain('hint:');
  });

  it('fails fast naming the address when the broker is unreachable', async () => {
    const t0 = Date.now();
    const r = await runCli(['--bootstrap-server', '127.0.0.1:1', 'lag', '--sample', '0'], {
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[KAFKA_UNREACHABLE]');
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('orderbus offsets reset', () => {
  it('plans per partition without touching anything (dry run)', async () => {
    const r = await runCli(
      ['offsets', 'reset', '--group', idle, '--topic', topic, '--to-earliest', '--json'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as ResetResult;
    expect(plan.executed).toBe(false);
    const p0 = plan.rows.find((x) => x.partition === 0);
    expect(p0).toMatchObject({ current: 4, target: 0, delta: -4, reRead: 4, skipped: 0 });
    expect(p0?.fromTime).toMatch(/^\d{4}-/);
    expect(plan.rows.find((x) => x.partition === 1)).toMatchObject({ current: null, target: 0 });
    expect((await apacheDescribe(idle)).find((a) => a.partition === 0)?.current).toBe(4);
  }, 60_000);

  it('refuses --execute on a group with active members with exit 3', async () => {
    const r = await runCli(
      ['offsets', 'reset', '--group', active, '--topic', topic, '--to-earliest', '--execute'],
      {
        env,
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error[GROUP_ACTIVE]');
    expect(r.stderr).toContain('--wait-empty');
    expect((await apacheDescribe(active)).every((a) => a.lag === 0)).toBe(true);
  }, 60_000);

  it('executes on an empty group, writes a rollback file, and the rollback restores the offsets', async () => {
    const r = await runCli(
      [
        'offsets',
        'reset',
        '--group',
        idle,
        '--topic',
        topic,
        '--shift-by',
        '-2',
        '--partitions',
        '0',
        '--execute',
        '--json',
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as ResetResult;
    expect(done.executed).toBe(true);
    expect(done.rows).toEqual([expect.objectContaining({ partition: 0, current: 4, target: 2 })]);
    expect((await apacheDescribe(idle)).find((a) => a.partition === 0)?.current).toBe(2);
    expect(done.rollbackFile && existsSync(done.rollbackFile)).toBe(true);
    const file = JSON.parse(readFileSync(done.rollbackFile as string, 'utf8')) as { offsets: unknown[] };
    expect(file.offsets).toEqual([{ partition: 0, offset: 4 }]);
    expect(done.rollbackCommand).toContain(`--from-file ${done.rollbackFile as string}`);
    const back = await runCli(
      [
        'offsets',
        'reset',
        '--group',
        idle,
        '--topic',
        topic,
        '--from-file',
        done.rollbackFile as string,
        '--execute',
      ],
      { env },
    );
    expect(back.code, back.stderr).toBe(0);
    expect((await apacheDescribe(idle)).find((a) => a.partition === 0)?.current).toBe(4);
    const audit = await runCli(['audit', '--command', 'offsets reset', '--json'], { env });
    expect((JSON.parse(audit.stdout) as unknown[]).length).toBe(2);
  }, 90_000);

  it('rejects bad input before touching anything: zoneless time, out-of-range offset, two strategies', async () => {
    const zoneless = await runCli([
      'offsets',
      'reset',
      '--group',
      idle,
      '--topic',
      topic,
      '--to-datetime',
      '2026-11-23T10:00:00',
    ]);
    expect(zoneless.code).toBe(2);
    expect(zoneless.stderr).toContain('error[BAD_DATETIME]');
    expect(zoneless.stderr).toContain('time zone');
    const range = await runCli([
      'offsets',
      'reset',
      '--group',
      idle,
      '--topic',
      topic,
      '--to-offset',
      '25',
      '--execute',
    ]);
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('error[OFFSET_OUT_OF_RANGE]');
    expect(range.stderr).toContain('partition 0: 25 not in [0, 10]');
    const two = await runCli([
      'offsets',
      'reset',
      '--group',
      idle,
      '--topic',
      topic,
      '--to-earliest',
      '--to-latest',
    ]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('error[RESET_STRATEGY]');
    const dur = await runCli(['offsets', 'reset', '--group', idle, '--topic', topic, '--by-duration', '15m']);
    expect(dur.code).toBe(2);
    expect(dur.stderr).toContain('error[BAD_DURATION]');
    const unknownTopic = await runCli([
      'offsets',
      'reset',
      '--group',
      idle,
      '--topic',
      `${topic}s`,
      '--to-earliest',
    ]);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.stderr).toContain('error[UNKNOWN_TOPIC]');
    expect(unknownTopic.stderr).toContain(topic);
    expect((await apacheDescribe(idle)).find((a) => a.partition === 0)?.current).toBe(4);
  }, 60_000);
});

describe('orderbus replay', () => {
  it('copies a range into a sandbox topic with keys, partitions and replay headers', async () => {
    const sandbox = `${topic}.sandbox`;
    const dry = await runCli(
      ['replay', topic, '--from-offset', '5', '--until', '8', '--to-topic', sandbox, '--json'],
      {
        env,
      },
    );
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as ReplayResult;
    expect(plan.execute).toBe(false);
    expect(plan.records).toBe(9);
    const r = await runCli(
      ['replay', topic, '--from-offset', '5', '--until', '8', '--to-topic', sandbox, '--execute', '--json'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as ReplayResult;
    expect(res.copied).toBe(9);
    expect(res.createdTopic).toBe(true);
    const got: { partition: number; key: string; headers: Record<string, string> }[] = [];
    const c = kafka.consumer({ groupId: `${ns}.check` });
    await c.connect();
    await c.subscribe({ topic: sandbox, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        got.push({
          partition,
          key: message.key?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await waitUntil('9 replayed records', () => got.length === 9);
    await c.disconnect();
    expect(got.filter((g) => g.partition === 1).map((g) => g.key)).toEqual(['k5', 'k6', 'k7']);
    expect(got[0]?.headers['replay-source-topic']).toBe(topic);
    expect(got.every((g) => g.headers['orderbus-audit-ref'] === res.auditRef)).toBe(true);
  }, 60_000);

  it('copies a large range (split between two threads) whole and in order, partition by partition', async () => {
    // Above the size where replay hands half of the partitions to a worker thread.
    const big = `${ns}.big`;
    const copy = `${big}.copy`;
    const perPartition = [9000, 21000, 15000, 16000];
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [{ topic: big, numPartitions: 4, replicationFactor: 1 }]);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (const [partition, n] of perPartition.entries())
      for (let i = 0; i < n; i += 3000)
        await producer.send({
          topic: big,
          messages: Array.from({ length: Math.min(3000, n - i) }, (_, j) => ({
            partition,
            key: `k${(i + j) % 97}`,
            value: `${partition}:${i + j}`,
          })),
        });
    await producer.disconnect();
    try {
      const r = await runCli(
        ['replay', big, '--from-offset', '0', '--to-topic', copy, '--execute', '--json'],
        {
          env,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as ReplayResult;
      expect(res.copied).toBe(61000);
      const reader = new KafkaLogReader(kafka);
      try {
        for (const [partition, n] of perPartition.entries()) {
          const values: string[] = [];
          let inOrder = true;
          await reader.readRange(copy, partition, 0, n + 1000, (batch) => {
            for (const rec of batch) {
              if (Number(rec.headers['replay-source-offset']) !== values.length) inOrder = false;
              values.push(rec.value?.toString() ?? '');
            }
          });
          expect(values.length, `partition ${partition}`).toBe(n);
          expect(inOrder, `partition ${partition} in source order`).toBe(true);
          expect(values[n - 1]).toBe(`${partition}:${n - 1}`);
        }
      } finally {
        await reader.close();
      }
    } finally {
      const a = await connectAdmin(config);
      await a.deleteTopics({ topics: [big, copy] }).catch(() => undefined);
      await a.disconnect();
    }
  }, 120_000);

  it('refuses to replay a topic into itself (exit 3) and a rewind of an active group (exit 3)', async () => {
    const self = await runCli(['replay', topic, '--from-offset', '0', '--to-topic', topic, '--execute']);
    expect(self.code).toBe(3);
    expect(self.stderr).toContain('error[REPLAY_INTO_SOURCE]');
    const group = await runCli(['replay', topic, '--from-offset', '0', '--group', active, '--execute'], {
      env,
    });
    expect(group.code).toBe(3);
    const none = await runCli(['replay', topic, '--to-topic', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error[REPLAY_START]');
  }, 60_000);
});

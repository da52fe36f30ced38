import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAdmin } from '../../src/adapters/kafka.js';
import type { AuditRecord } from '../../src/ops/audit.js';
import type { LagReport } from '../../src/ops/lag.js';
import type { ResetResult } from '../../src/ops/offsets.js';
import type { ReadRecord } from '../../src/ops/read.js';
import type { ReplayResult } from '../../src/ops/replay.js';
import { GroupsFixture, RECORDS_PER_PARTITION } from '../support/groups.js';
import { asToolRows, startConsoleConsumer } from '../support/kafka-tools.js';
import { KAFKA_4, kafka4Config, kafka4Env, sharedKafka4 } from '../support/shared-kafka4.js';
import { waitUntil } from '../support/wait.js';

/**
 * lag, offsets reset, replay and read against a Kafka 4.x broker (the run's shared one), as
 * ops-lag, ops-offsets, ops-replay and ops-read run them against the stack's 3.9: checked with
 * Apache's ConsumerGroupCommand of the same 4.x release and with the log. On 4.x a consumer
 * group can also speak the consumer protocol (KIP-848): one is made by Apache's console consumer.
 */
const fx = new GroupsFixture('k4ops', { config: kafka4Config(), env: kafka4Env() });
const kip848 = `${fx.ns}.kip848`;
const TOTAL = RECORDS_PER_PARTITION.reduce((a, b) => a + b, 0);
let consumer: ChildProcess | undefined;

const lagOf = async (group: string) =>
  (await fx.json<LagReport>(['lag', '--group', group, '--sample', '0'])).groups[0];
const reset = (group: string, args: string[]) =>
  fx.json<ResetResult>(['offsets', 'reset', '--group', group, '--topic', fx.topic, ...args]);
/** The group's committed offsets by partition, as the broker answers a plain client. */
const committed = async (group: string) =>
  withAdmin(fx.config, async (admin) =>
    ((await admin.fetchOffsets({ groupId: group, topics: [fx.topic] }))[0]?.partitions ?? [])
      .sort((a, b) => a.partition - b.partition)
      .map((p) => Number(p.offset)),
  );

beforeAll(async () => {
  await sharedKafka4();
  await fx.start();
  consumer = await startConsoleConsumer(fx.config, fx.topic, kip848, 'consumer');
  await waitUntil(
    'the KIP-848 group committed every record',
    async () => (await fx.apacheDescribe(kip848)).reduce((s, r) => s + (r.current ?? 0), 0) === TOTAL,
    { timeoutMs: 90_000, intervalMs: 500 },
  );
}, 180_000);
afterAll(async () => {
  consumer?.kill('SIGKILL');
  await fx.stop();
});

describe(`operations on Kafka ${KAFKA_4}`, () => {
  it("lag of an idle and a live classic group equals Apache's kafka-consumer-groups --describe", async () => {
    for (const [group, state, members] of [
      [fx.idle, 'Empty', 0],
      [fx.active, 'Stable', 1],
    ] as const) {
      const ours = await lagOf(group);
      expect(ours).toMatchObject({ group, state, members, protocol: 'classic' });
      expect(asToolRows(ours?.partitions)).toEqual(await fx.apacheDescribe(group));
    }
    const idle = await lagOf(fx.idle);
    expect(idle?.totalLag).toBe(6);
    expect(idle?.partitions.find((p) => p.partition === 0)?.timeLagMs).toBeGreaterThan(50_000);
  }, 90_000);

  it('lag of a live KIP-848 group; once its member left, offsets reset executes on it and lag shows the rewind', async () => {
    const live = await lagOf(kip848);
    expect(live).toMatchObject({ protocol: 'consumer', state: 'Stable', members: 1, totalLag: 0 });
    expect(asToolRows(live?.partitions)).toEqual(await fx.apacheDescribe(kip848));
    consumer?.kill('SIGTERM'); // the console consumer leaves its group as it closes
    await waitUntil(
      'the KIP-848 group without members',
      async () => (await lagOf(kip848))?.state === 'Empty',
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    const dry = await reset(kip848, ['--to-earliest']);
    expect(dry).toMatchObject({ executed: false, state: 'Empty', members: 0 });
    const done = await reset(kip848, ['--to-earliest', '--execute']);
    expect(done.executed).toBe(true);
    expect(await committed(kip848)).toEqual([0, 0, 0]);
    expect((await lagOf(kip848))?.totalLag).toBe(TOTAL);
  }, 120_000);

  it('offsets reset on an empty group: dry run, --execute, and its rollback file restores the offsets', async () => {
    const plan = await reset(fx.idle, ['--to-earliest']);
    expect(plan.executed).toBe(false);
    expect(plan.rows.find((x) => x.partition === 0)).toMatchObject({ current: 4, target: 0, delta: -4 });
    expect(await committed(fx.idle)).toEqual([4, -1, 30]);
    const done = await reset(fx.idle, ['--shift-by', '-2', '--partitions', '0', '--execute']);
    expect(done.rows).toEqual([expect.objectContaining({ partition: 0, current: 4, target: 2 })]);
    expect(await fx.committed(fx.idle, 0)).toBe(2); // as Apache's tool reads it
    expect(existsSync(done.rollbackFile ?? '')).toBe(true);
    await reset(fx.idle, ['--from-file', done.rollbackFile ?? '', '--execute']);
    expect(await committed(fx.idle)).toEqual([4, -1, 30]);
    const audit = await fx.json<AuditRecord[]>(['audit', '--command', `offsets reset --group ${fx.idle}`]);
    expect(audit.map((r) => [r.status, r.target?.bootstrapServers])).toEqual(
      [1, 2].map(() => ['done', fx.config.kafka.brokers]),
    );
  }, 90_000);

  it('replay copies a range into a new topic with keys, partitions and replay headers', async () => {
    const sandbox = `${fx.topic}.sandbox`;
    fx.extraTopics.push(sandbox);
    const range = ['replay', fx.topic, '--from-offset', '5', '--until', '8', '--to-topic', sandbox];
    expect(await fx.json<ReplayResult>(range)).toMatchObject({ execute: false, records: 9 });
    const res = await fx.json<ReplayResult>([...range, '--execute']);
    expect(res).toMatchObject({ copied: 9, createdTopic: true });
    const got = await fx.readTopic(sandbox, RECORDS_PER_PARTITION.length);
    expect(got.map((p) => p.map((r) => r.key?.toString()))).toEqual([0, 1, 2].map(() => ['k5', 'k6', 'k7']));
    expect(got.flat().every((r) => r.headers['replay-source-topic'] === fx.topic)).toBe(true);
    expect(got.flat().every((r) => r.headers['orderbus-audit-ref'] === res.auditRef)).toBe(true);
  }, 60_000);

  it('read takes an offset range of one partition and the last record of each', async () => {
    const read = async (args: string[]) => {
      const r = await fx.cli(['read', fx.topic, ...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ReadRecord)
        .map((x) => `${x.partition}@${x.offset}:${x.key}`);
    };
    expect(await read(['--partition', '1', '--from-offset', '3', '--until', '6'])).toEqual([
      '1@3:k3',
      '1@4:k4',
      '1@5:k5',
    ]);
    expect(await read(['--last', '1'])).toEqual(['0@9:k9', '1@19:k19', '2@29:k29']);
  }, 60_000);
});

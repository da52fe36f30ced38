import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import type { ReplayResult } from '../../src/ops/replay.js';
import { GroupsFixture, RECORDS_PER_PARTITION } from '../support/groups.js';

/** `orderbus replay` against the real Kafka: what lands on the target topic, read back from its log. */
const fx = new GroupsFixture('replay');

beforeAll(() => fx.start(), 120_000);
afterAll(() => fx.stop());

describe('orderbus replay', () => {
  it('copies a range into a sandbox topic with keys, partitions and replay headers', async () => {
    const sandbox = `${fx.topic}.sandbox`;
    fx.extraTopics.push(sandbox);
    const range = ['replay', fx.topic, '--from-offset', '5', '--until', '8', '--to-topic', sandbox];
    const plan = await fx.json<ReplayResult>(range);
    expect(plan.execute).toBe(false);
    expect(plan.records).toBe(9);
    const res = await fx.json<ReplayResult>([...range, '--execute']);
    expect(res.copied).toBe(9);
    expect(res.createdTopic).toBe(true);
    const got = await fx.readTopic(sandbox, RECORDS_PER_PARTITION.length);
    expect(got.flat()).toHaveLength(9);
    expect(got[1]?.map((r) => r.key?.toString())).toEqual(['k5', 'k6', 'k7']);
    expect(got.flat()[0]?.headers['replay-source-topic']).toBe(fx.topic);
    expect(got.flat().every((r) => r.headers['orderbus-audit-ref'] === res.auditRef)).toBe(true);
  }, 60_000);

  it('copies a large range (split between two threads) whole and in order, partition by partition', async () => {
    // Above the size where replay hands half of the partitions to a worker thread.
    const big = `${fx.ns}.big`;
    const copy = `${big}.copy`;
    fx.extraTopics.push(big, copy);
    const perPartition = [9000, 21000, 15000, 16000];
    const admin = await connectAdmin(fx.config);
    await createTopicsAndWait(admin, [
      { topic: big, numPartitions: perPartition.length, replicationFactor: 1 },
    ]);
    await admin.disconnect();
    const producer = fx.kafka.producer();
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
    const res = await fx.json<ReplayResult>([
      'replay',
      big,
      '--from-offset',
      '0',
      '--to-topic',
      copy,
      '--execute',
    ]);
    expect(res.copied).toBe(61000);
    const got = await fx.readTopic(copy, perPartition.length);
    for (const [partition, n] of perPartition.entries()) {
      const records = got[partition] ?? [];
      expect(records.length, `partition ${partition}`).toBe(n);
      expect(
        records.every((r, i) => Number(r.headers['replay-source-offset']) === i),
        `partition ${partition} in source order`,
      ).toBe(true);
      expect(records[n - 1]?.value?.toString()).toBe(`${partition}:${n - 1}`);
    }
  }, 120_000);

  it('refuses to replay a topic into itself (exit 3) and a rewind of an active group (exit 3)', async () => {
    const self = await fx.cli([
      'replay',
      fx.topic,
      '--from-offset',
      '0',
      '--to-topic',
      fx.topic,
      '--execute',
    ]);
    expect(self.code).toBe(3);
    expect(self.stderr).toContain('error[REPLAY_INTO_SOURCE]');
    const group = await fx.cli(['replay', fx.topic, '--from-offset', '0', '--group', fx.active, '--execute']);
    expect(group.code).toBe(3);
    const none = await fx.cli(['replay', fx.topic, '--to-topic', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error[REPLAY_START]');
  }, 60_000);
});

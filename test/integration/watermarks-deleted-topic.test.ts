import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { probeKey } from '../../src/adapters/kafka-fetch.js';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
import { lagSnapshot } from '../../src/ops/lag.js';
import { testNamespace } from '../support/namespace.js';

// A long-lived view (the console, lag --watch, metrics) keeps one client; a topic deleted between
// two snapshots (another team's, a test's) must drop out of the watermarks, not fail every later
// snapshot through the client's stale metadata.
const config = loadConfig();
const ns = testNamespace('wmdel');
const kept = `${ns}.kept`;
const gone = `${ns}.gone`;
let admin: Admin;

beforeAll(async () => {
  admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [
    { topic: kept, numPartitions: 2, replicationFactor: 1 },
    { topic: gone, numPartitions: 2, replicationFactor: 1 },
  ]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [kept, gone] }).catch(() => undefined);
  await admin.disconnect();
});

describe('watermarks and record timestamps while topics are deleted', () => {
  it('a topic deleted between two snapshots of one client drops out; the others are still read', async () => {
    await withOps(config, async (ctx) => {
      const first = await ctx.groups().watermarks([kept, gone]);
      expect([...first.keys()].sort()).toEqual([gone, kept].sort());
      await admin.deleteTopics({ topics: [gone] });
      await expect
        .poll(async () => (await admin.listTopics()).includes(gone), { timeout: 30_000 })
        .toBe(false);
      const second = await ctx.groups().watermarks([kept, gone]);
      expect([...second.keys()]).toEqual([kept]);
      expect([...(second.get(kept)?.keys() ?? [])].sort()).toEqual([0, 1]);
    });
  }, 120_000);

  it('the groups are listed again after a topic the last snapshot read was deleted', async () => {
    // status beside tests deleting their topics: the group listing refreshed the shared client's
    // metadata, which failed on the deleted topic, and status showed no groups at all.
    const t = `${ns}.listed`;
    const groups = { [t]: `${ns}.on-deleted`, [kept]: `${ns}.on-kept` };
    await createTopicsAndWait(admin, [{ topic: t, numPartitions: 1, replicationFactor: 1 }]);
    for (const [topic, groupId] of Object.entries(groups))
      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    try {
      await withOps(config, async (ctx) => {
        const first = await lagSnapshot(ctx, { groups: Object.values(groups) });
        expect(first.groups.map((g) => g.group).sort()).toEqual(Object.values(groups).sort());
        await admin.deleteTopics({ topics: [t] });
        await expect
          .poll(async () => (await admin.listTopics()).includes(t), { timeout: 30_000 })
          .toBe(false);
        const second = await lagSnapshot(ctx, {});
        expect(second.groups.some((g) => g.group === groups[kept])).toBe(true);
      });
    } finally {
      await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
      await admin.deleteTopics({ topics: [t] }).catch(() => undefined);
    }
  }, 120_000);

  it('record timestamps: a topic deleted between two reads of one reader gets none; the others are still read', async () => {
    // status and lag read time lag right after the watermarks; a topic deleted in between failed
    // the whole read (status then showed no groups at all).
    const a = `${ns}.ts-kept`;
    const b = `${ns}.ts-gone`;
    await createTopicsAndWait(admin, [
      { topic: a, numPartitions: 1, replicationFactor: 1 },
      { topic: b, numPartitions: 1, replicationFactor: 1 },
    ]);
    const producer = kafkaClient(config, `${ns}-ts`).producer();
    await producer.connect();
    try {
      for (const topic of [a, b])
        await producer.send({
          topic,
          acks: -1,
          messages: [
            { value: 'x', timestamp: '1700000000000' },
            { value: 'y', timestamp: '1700000001000' },
          ],
        });
    } finally {
      await producer.disconnect();
    }
    // The second read asks other offsets: the first read's answers are kept by the reader.
    const probes = (offset: number) => [a, b].map((topic) => ({ topic, partition: 0, offset }));
    try {
      await withOps(config, async (ctx) => {
        const first = await ctx.reader().timestamps(probes(0));
        expect(first.size).toBe(2);
        await admin.deleteTopics({ topics: [b] });
        await expect
          .poll(async () => (await admin.listTopics()).includes(b), { timeout: 30_000 })
          .toBe(false);
        const second = await ctx.reader().timestamps(probes(1));
        expect([...second.values()]).toEqual([1700000001000]);
        expect(second.get(probeKey(probes(1)[0]!))).toBe(1700000001000);
      });
    } finally {
      await admin.deleteTopics({ topics: [a, b] }).catch(() => undefined);
    }
  }, 120_000);
});

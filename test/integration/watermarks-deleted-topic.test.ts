import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
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

describe('watermarks while topics are deleted', () => {
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
});

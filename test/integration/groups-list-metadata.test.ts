import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
import { kafkaDlqNames } from '../../src/ops/dlq/dlq-names.js';
import { cursorTopicSpec, kafkaOutstanding } from '../../src/ops/dlq/kafka-cursor.js';
import { kafkaHealth } from '../../src/ops/health.js';
import { lagSnapshot } from '../../src/ops/lag.js';
import { ensureOpsTopic } from '../../src/ops/ops-topic.js';
import { testNamespace } from '../support/namespace.js';

// A view refreshing every 2 s (lag --watch, the console, metrics) lists the groups each time. The
// listing refreshed the client's metadata for every topic it had read, 10,000 partitions decoded
// per refresh on a big cluster, to learn the brokers; a Metadata request for no topic names them.
// kafkajs' broker.metadata() is where every Metadata request of kafkajs' own goes: counted here.
const config = loadConfig();
const ns = testNamespace('glmeta');
const topic = `${ns}.t`;
const group = `${ns}.g`;
const dlq = `${ns}.dlq`;
const require_ = createRequire(import.meta.url);
const Broker = require_('kafkajs/src/broker/index.js') as {
  prototype: { metadata(topics?: string[]): Promise<unknown> };
};
const original = Broker.prototype.metadata;
let asked: string[][] = [];
let admin: Admin;

beforeAll(async () => {
  admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [
    { topic, numPartitions: 3, replicationFactor: 1 },
    { topic: dlq, numPartitions: 2, replicationFactor: 1 },
  ]);
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '0' }] });
  Broker.prototype.metadata = function (this: unknown, topics: string[] = []) {
    asked.push(topics);
    return original.call(this, topics);
  };
});

afterEach(() => {
  asked = [];
});

afterAll(async () => {
  Broker.prototype.metadata = original;
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await admin.disconnect();
});

describe('listing groups again on a client that read topics', () => {
  it('asks no topic metadata while the brokers are the same, and still lists every group', async () => {
    await withOps(config, async (ctx) => {
      const groups = ctx.groups();
      await groups.watermarks([topic]);
      expect((await groups.list()).map((g) => g.groupId)).toContain(group);
      asked = [];
      for (let i = 0; i < 3; i++) expect((await groups.list()).map((g) => g.groupId)).toContain(group);
      expect(asked).toEqual([]);
    });
  }, 60_000);
});

// The console's other per-refresh questions: the health line (brokers, controller, releases), the
// Kafka DLQ names, and whether the DLQ cursor's topic exists. Each asked kafkajs for every topic
// (describeCluster twice, listTopics twice: its admin's metadata never counts as fresh).
describe('the health line, the DLQ names and the cursor topic check', () => {
  it('ask kafkajs for no topic list on a refresh after the first, and answer as before', async () => {
    await withOps(config, async (ctx) => {
      const missing = { topic: `${ns}.missing`, configEntries: [] };
      const refresh = async () => {
        const health = await kafkaHealth(config);
        expect(health.status).toBe('up');
        expect(health.brokers?.length).toBeGreaterThan(0);
        expect(health.brokers?.every((b) => /^(3\.|4\.x)/.test(b.version ?? ''))).toBe(true);
        expect(health.detail).toMatch(/^cluster \S+/);
        expect(await kafkaDlqNames(ctx)).toContain(dlq);
        expect(await ensureOpsTopic(ctx, cursorTopicSpec(config), false)).toBe(true);
        expect(await ensureOpsTopic(ctx, missing, false)).toBe(false);
        expect((await kafkaOutstanding(ctx, dlq)).map((r) => r.partition)).toEqual([0, 1]);
      };
      // The first finds the group coordinators through a fresh admin, which has no topic yet.
      await refresh();
      asked = [];
      await refresh();
      expect(asked.filter((t) => t.length === 0)).toEqual([]);
      // Asking about a missing topic did not create it.
      expect(await ctx.topicNames()).not.toContain(missing.topic);
    });
  }, 60_000);
});

// lag --watch --topic X checked on every refresh that X exists by listing every topic of the
// cluster (listTopics: a Metadata answer for each of them, per refresh).
describe('lag of one topic, refreshed', () => {
  it('asks kafkajs for no topic list after the first refresh; a missing topic still names its near misses', async () => {
    await withOps(config, async (ctx) => {
      const snapshot = async () => {
        const s = await lagSnapshot(ctx, { topic });
        expect(s.groups.map((g) => g.group)).toContain(group);
      };
      await snapshot();
      asked = [];
      await snapshot();
      await snapshot();
      expect(asked.filter((t) => t.length === 0)).toEqual([]);
      await expect(lagSnapshot(ctx, { topic: `${topic}x` })).rejects.toMatchObject({
        code: 'UNKNOWN_TOPIC',
        message: expect.stringContaining(`did you mean '${topic}'`) as unknown,
      });
    });
  }, 60_000);
});

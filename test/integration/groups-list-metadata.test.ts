import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { withOps } from '../../src/ops/context.js';
import { testNamespace } from '../support/namespace.js';

// A view refreshing every 2 s (lag --watch, the console, metrics) lists the groups each time. The
// listing refreshed the client's metadata for every topic it had read, 10,000 partitions decoded
// per refresh on a big cluster, to learn the brokers; a Metadata request for no topic names them.
// kafkajs' broker.metadata() is where every Metadata request of kafkajs' own goes: counted here.
const config = loadConfig();
const ns = testNamespace('glmeta');
const topic = `${ns}.t`;
const group = `${ns}.g`;
const require_ = createRequire(import.meta.url);
const Broker = require_('kafkajs/src/broker/index.js') as {
  prototype: { metadata(topics?: string[]): Promise<unknown> };
};
const original = Broker.prototype.metadata;
let asked: string[][] = [];
let admin: Admin;

beforeAll(async () => {
  admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
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
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
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

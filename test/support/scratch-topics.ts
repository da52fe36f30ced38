import type { Admin } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import type { OrderbusConfig } from '../../src/config.js';

export interface ScratchTopics {
  /** The file's admin client, connected before its first test. */
  admin(): Admin;
  /** Creates one-partition topics, deleted after the file's last test. */
  create(specs: { topic: string; configEntries?: { name: string; value: string }[] }[]): Promise<void>;
  /** Topics a command under test creates, deleted with the others. */
  deleteAfterAll(...topics: string[]): void;
}

/** The topics a test file makes on the shared cluster, through one admin, and their removal. */
export function scratchTopics(config: OrderbusConfig, clientId: string): ScratchTopics {
  let admin: Admin | undefined;
  const created: string[] = [];
  beforeAll(async () => {
    admin = kafkaClient(config, clientId).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.deleteTopics({ topics: created }).catch(() => undefined);
    await admin?.disconnect();
  });
  const connected = (): Admin => {
    if (!admin) throw new Error('scratchTopics: the admin connects in beforeAll');
    return admin;
  };
  return {
    admin: connected,
    async create(specs) {
      await createTopicsAndWait(
        connected(),
        specs.map((s) => ({ ...s, numPartitions: 1, replicationFactor: config.topics.replicationFactor })),
      );
      created.push(...specs.map((s) => s.topic));
    },
    deleteAfterAll(...topics) {
      created.push(...topics);
    },
  };
}

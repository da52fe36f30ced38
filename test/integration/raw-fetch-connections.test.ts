import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

// Reads sent at once on a fresh client (time lag's concurrent slices, a console reading records
// while it samples lag): kafkajs connects a broker's Fetch connection on first use and, asked by
// several Fetches at once, opened a socket for each and kept one — the others stayed open after
// the reader was closed, and a process that had read time lag never exited.
const config = loadConfig();
const ns = testNamespace('rawconn');
const topic = `${ns}.records`;
const brokerPorts = new Set(config.kafka.brokers.map((b) => Number(b.split(':').at(-1))));
let admin: Admin;

/** This process's open sockets to the brokers. */
const brokerSockets = () =>
  (process as unknown as { _getActiveHandles(): unknown[] })
    ._getActiveHandles()
    .filter(
      (h): h is Socket =>
        (h as Socket).constructor?.name === 'Socket' &&
        brokerPorts.has((h as Socket).remotePort ?? -1) &&
        !(h as Socket).destroyed,
    );

beforeAll(async () => {
  admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [{ topic, numPartitions: 2, replicationFactor: 1 }]);
  const producer = kafkaClient(config, ns).producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [0, 1].map((partition) => ({ partition, value: 'x' })) });
  await producer.disconnect();
  await admin.disconnect();
});

afterAll(async () => {
  admin = await connectAdmin(config);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

describe('raw reads at once on a fresh client', () => {
  it('leave no connection open once the reader is closed', async () => {
    await waitUntil('no broker sockets before', () => brokerSockets().length === 0);
    const reader = new KafkaLogReader(kafkaClient(config, ns));
    const probes = [0, 1].map((partition) => ({ topic, partition, offset: 0 }));
    const [headers, exact, records] = await Promise.all([
      reader.timestamps(probes),
      reader.exactTimestamps(probes),
      reader.readAll(topic, 0, 0, 1),
    ]);
    expect(headers.size).toBe(2);
    expect(Object.fromEntries(exact)).toEqual(Object.fromEntries(headers));
    expect(records).toHaveLength(1);
    await reader.close();
    await waitUntil('every broker socket closed', () => brokerSockets().length === 0, { timeoutMs: 10_000 });
  });
});

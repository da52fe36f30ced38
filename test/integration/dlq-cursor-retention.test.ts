import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import type { DlqMessage, PurgeResult, RedriveResult } from '../../src/ops/dlq/index.js';
import { cursorGroup } from '../../src/ops/dlq/index.js';
import { runCli } from '../support/cli.js';
import { eventLetter, garbageLetter } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';
import type { PrivateKafka } from '../support/private-kafka.js';
import { startPrivateKafkaWith } from '../support/private-kafka-props.js';
import { waitUntil } from '../support/wait.js';

/**
 * The Kafka DLQ cursor outlives the broker's offset retention: on a private broker that expires
 * committed offsets after a minute, purged and redriven dead letters stay handled.
 */
const json = <T>(s: string): T => JSON.parse(s) as T;

let k: PrivateKafka | undefined;
let admin: Admin | undefined;
beforeAll(async () => {
  k = await startPrivateKafkaWith(19892, {
    'offsets.retention.minutes': '1',
    'offsets.retention.check.interval.ms': '1000',
  });
  admin = kafkaClient(k.config, 'cursor-retention').admin();
  await admin.connect();
  // A fresh broker loads its group coordinators for a moment after it answers.
  await waitUntil(
    'the group coordinator',
    async () => {
      await admin!.fetchOffsets({ groupId: 'warm-up', topics: [] });
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}, 180_000);
afterAll(async () => {
  await admin?.disconnect();
  await k?.stop();
});

describe('Kafka DLQ cursor under offsets.retention.minutes=1', () => {
  it('purged and redriven letters (and those left behind a kept one) stay handled after the group offsets expired', async () => {
    const kk = k!;
    const ns = testNamespace('cursor');
    const events = `${ns}.events`;
    const redriven = `${ns}-r.dlq`;
    const purged = `${ns}-p.dlq`;
    const env = {
      ORDERBUS_KAFKA_BROKERS: kk.brokers.join(','),
      ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
      ORDERBUS_TOPIC_ORDER_EVENTS: events,
      ORDERBUS_KAFKA_CLIENT_ID: ns,
    };
    await createTopicsAndWait(
      admin!,
      [events, redriven, purged].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    );
    const valid = () => eventLetter(kk.config, events);
    const garbage = () => garbageLetter(events);
    const producer = kafkaClient(kk.config, ns).producer();
    await producer.connect();
    // offsets 0..4: redriven, kept (undecodable), redriven, redriven, kept
    await producer.send({
      topic: redriven,
      acks: -1,
      messages: [await valid(), garbage(), await valid(), await valid(), garbage()],
    });
    await producer.send({ topic: purged, acks: -1, messages: [garbage(), garbage(), await valid()] });
    await producer.disconnect();

    const r = await runCli(['dlq', 'redrive', redriven, '--execute', '--json'], { env });
    expect(r.code, r.stderr).toBe(4);
    expect(json<RedriveResult>(r.stdout)).toMatchObject({ redriven: 3, invalid: 2, remaining: 2 });
    const p = await runCli(['dlq', 'purge', purged, '--execute', '--json'], { env, input: `${purged}\n` });
    expect(p.code, p.stderr).toBe(0);
    expect(json<PurgeResult>(p.stdout)).toMatchObject({ execute: true, count: 3 });

    const shown = async (dlq: string) =>
      json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout).map((m) => m.id);
    expect(await shown(redriven)).toEqual(['0:1', '0:4']);
    expect(await shown(purged)).toEqual([]);

    // The broker expires the cursor groups' committed offsets (polled, not slept).
    const committed = async (dlq: string) =>
      (await admin!.fetchOffsets({ groupId: cursorGroup(dlq), topics: [dlq] }))[0]?.partitions.map((x) =>
        Number(x.offset),
      ) ?? [];
    expect(await committed(purged)).toEqual([3]);
    await waitUntil(
      'the broker expired both cursor groups',
      async () =>
        (await committed(redriven)).every((o) => o === -1) &&
        (await committed(purged)).every((o) => o === -1),
      { timeoutMs: 150_000, intervalMs: 2000 },
    );

    expect(await shown(redriven)).toEqual(['0:1', '0:4']);
    expect(await shown(purged)).toEqual([]);
    // Nothing is re-published twice: the next redrive finds only the two it cannot send.
    const again = json<RedriveResult>(
      (await runCli(['dlq', 'redrive', redriven, '--execute', '--json'], { env })).stdout,
    );
    expect(again).toMatchObject({ redriven: 0, invalid: 2, remaining: 2 });
    const high = (await admin!.fetchTopicOffsets(events)).reduce((n, m) => n + Number(m.high), 0);
    expect(high).toBe(3);
  }, 300_000);
});

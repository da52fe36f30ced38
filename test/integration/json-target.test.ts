import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import type { CommandTarget } from '../../src/ops/target.js';
import { runCli } from '../support/cli.js';
import { eventLetter, sendLetters } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';

/**
 * The JSON of every command that changes a cluster (offsets reset, replay, dlq redrive and purge),
 * dry run and --execute, names the cluster it ran against as the text's target line does:
 * context, bootstrap servers and the cluster id the brokers answer with.
 */
const ns = testNamespace('jtarget');
const events = `${ns}.events`;
const dlq = `${events}.dlq`;
const copy = `${ns}.copy`;
const group = `${ns}.billing`;
const config = loadConfig();
let admin: Admin;
let configFile: string;
let expected: CommandTarget;

beforeAll(async () => {
  admin = await connectAdmin(config, `${ns}-setup`);
  await createTopicsAndWait(
    admin,
    [events, dlq].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
  );
  const kafka = kafkaClient(config, `${ns}-producer`);
  await sendLetters(
    kafka,
    events,
    [1, 2, 3].map((n) => ({ key: `o-${n}`, value: `{"n":${n}}` })),
  );
  await sendLetters(kafka, dlq, [await eventLetter(config, events)]);
  await admin.setOffsets({ groupId: group, topic: events, partitions: [{ partition: 0, offset: '3' }] });
  expected = {
    context: 'ops-json',
    bootstrapServers: config.kafka.brokers,
    clusterId: (await admin.describeCluster()).clusterId,
  };
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-json-target-'));
  configFile = join(dir, 'orderbus.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      currentContext: 'ops-json',
      contexts: {
        'ops-json': { topics: { orderEvents: events, orderEventsDlq: dlq, audit: `${ns}.audit` } },
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${ns}.`));
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.disconnect();
});

async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
  const r = await runCli(['--config', configFile, ...args, '--json']);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('the JSON of a changing command names its target cluster', () => {
  it('offsets reset, dry run and --execute', async () => {
    const reset = ['offsets', 'reset', '--group', group, '--topic', events, '--to-earliest'];
    expect(await json(reset)).toMatchObject({ executed: false, cluster: expected });
    expect(await json([...reset, '--execute'])).toMatchObject({ executed: true, cluster: expected });
  });

  it('replay into a topic, dry run and --execute', async () => {
    const replay = ['replay', events, '--from-offset', '0', '--to-topic', copy];
    expect(await json(replay)).toMatchObject({ execute: false, cluster: expected });
    expect(await json([...replay, '--execute'])).toMatchObject({
      execute: true,
      copied: 3,
      target: { topic: copy },
      cluster: expected,
    });
  });

  it('dlq redrive and dlq purge, dry run and --execute', async () => {
    expect(await json(['dlq', 'redrive', dlq])).toMatchObject({ execute: false, cluster: expected });
    expect(await json(['dlq', 'redrive', dlq, '--execute'])).toMatchObject({
      execute: true,
      redriven: 1,
      cluster: expected,
    });
    await sendLetters(kafkaClient(config, `${ns}-letters`), dlq, [await eventLetter(config, events)]);
    expect(await json(['dlq', 'purge', dlq])).toMatchObject({ execute: false, cluster: expected });
    expect(await json(['dlq', 'purge', dlq, '--execute', '--yes'])).toMatchObject({
      execute: true,
      count: 1,
      cluster: expected,
    });
  });
});

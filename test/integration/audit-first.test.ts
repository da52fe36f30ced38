import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { loadConfig } from '../../src/config.js';
import type { AuditRecord } from '../../src/ops/audit.js';
import type { DlqMessage, RedriveResult } from '../../src/ops/dlq/index.js';
import { projectRoot } from '../../src/paths.js';
import { runCli } from '../support/cli.js';
import { eventLetter, sendLetters, type KafkaLetter } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';
import { scratchTopics } from '../support/scratch-topics.js';
import { waitUntil } from '../support/wait.js';

/**
 * Audit first, against the real Kafka: no audit record, no change; a command killed midway leaves
 * its intent, shown as interrupted.
 */
const json = <T>(s: string): T => JSON.parse(s) as T;
const config = loadConfig();
const scratch = scratchTopics(config, 'audit-first');

const seed = (topic: string, letters: KafkaLetter[]) =>
  sendLetters(kafkaClient(config, 'audit-first-seed'), topic, letters);

const recordsOn = async (topic: string) =>
  (await scratch.admin().fetchTopicOffsets(topic)).reduce((n, m) => n + Number(m.high), 0);

describe('audit first', () => {
  it('refuses a purge, an offsets reset and a replay when the audit topic cannot be written, and changes nothing', async () => {
    const ns = testNamespace('noaudit');
    const events = `${ns}.events`;
    const dlq = `${ns}.dlq`;
    const audit = `${ns}.audit`;
    // The audit topic exists but refuses every write: no audit record fits its max.message.bytes.
    await scratch.create([
      { topic: events },
      { topic: dlq },
      { topic: audit, configEntries: [{ name: 'max.message.bytes', value: '64' }] },
    ]);
    await seed(dlq, [await eventLetter(config, events), await eventLetter(config, events)]);
    await seed(events, [{ key: 'k', value: Buffer.from('v'), headers: {} }]);
    await scratch.admin().setOffsets({
      groupId: `${ns}.g`,
      topic: events,
      partitions: [{ partition: 0, offset: '1' }],
    });
    const env = {
      ORDERBUS_TOPIC_AUDIT: audit,
      ORDERBUS_TOPIC_ORDER_EVENTS: events,
      ORDERBUS_KAFKA_CLIENT_ID: ns,
    };

    const cases = [
      { args: ['offsets', 'reset', '--group', `${ns}.g`, '--topic', events, '--to-earliest', '--execute'] },
      { args: ['replay', events, '--from-offset', '0', '--to-topic', `${ns}.copy`, '--execute'] },
      { args: ['dlq', 'purge', dlq, '--execute'], input: `${dlq}\n` },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, { env, timeoutMs: 90_000, ...(c.input ? { input: c.input } : {}) });
      expect(r.code, `${c.args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain('error[AUDIT_UNAVAILABLE]');
      expect(r.stderr).toContain('orderbus status');
    }
    const left = json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout);
    expect(left.map((m) => m.id)).toEqual(['0:0', '0:1']);
    const group = await scratch.admin().fetchOffsets({ groupId: `${ns}.g`, topics: [events] });
    expect(group[0]?.partitions[0]?.offset).toBe('1');
    expect(await scratch.admin().listTopics()).not.toContain(`${ns}.copy`);
  }, 300_000);

  it('a redrive killed with SIGKILL midway leaves an interrupted intent, and the next one finishes without losing a letter', async () => {
    const ns = testNamespace('killaudit');
    const events = `${ns}.events`;
    const dlq = `${ns}.dlq`;
    const audit = `${ns}.audit`;
    await scratch.create([{ topic: events }, { topic: dlq }]);
    const n = 400;
    await seed(dlq, await Promise.all(Array.from({ length: n }, () => eventLetter(config, events))));
    const env = {
      ORDERBUS_TOPIC_AUDIT: audit,
      ORDERBUS_TOPIC_ORDER_EVENTS: events,
      ORDERBUS_KAFKA_CLIENT_ID: ns,
    };
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'dlq', 'redrive', dlq, '--execute', '--rate', '40', '--json'],
      { cwd: projectRoot(), env: { ...process.env, NO_COLOR: '1', ...env }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Killed once its intent is on the audit topic: while it paces its re-publishes (10 s at 40/s).
    await waitUntil(
      'the intent on the audit topic',
      async () => (await scratch.admin().listTopics()).includes(audit) && (await recordsOn(audit)) >= 1,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    child.kill('SIGKILL');
    await exited;
    expect(await recordsOn(events)).toBeLessThan(n);

    const records = json<AuditRecord[]>(
      (await runCli(['audit', '--command', `dlq redrive ${dlq}`, '--json'], { env })).stdout,
    );
    expect(records.map((r) => [r.status, r.result])).toEqual([['interrupted', null]]);
    expect(records[0]?.target?.bootstrapServers).toEqual(config.kafka.brokers);
    expect(records[0]?.target?.clusterId).toBe((await scratch.admin().describeCluster()).clusterId);

    const rest = await runCli(['dlq', 'redrive', dlq, '--execute', '--json'], { env, timeoutMs: 120_000 });
    expect(rest.code, rest.stderr).toBe(0);
    expect(json<RedriveResult>(rest.stdout)).toMatchObject({ failed: 0, remaining: 0 });
    // Every letter is on its topic; at most the batch in flight at the kill went twice.
    const reader = new KafkaLogReader(kafkaClient(config, `${ns}-check`));
    const keys = new Set(
      (await reader.readAll(events, 0, 0, await recordsOn(events))).map((r) => r.key?.toString()),
    );
    await reader.close();
    expect(keys.size).toBe(n);
    expect(await recordsOn(events)).toBeLessThanOrEqual(n + 50);
    const after = json<AuditRecord[]>(
      (await runCli(['audit', '--command', `dlq redrive ${dlq}`, '--json'], { env })).stdout,
    );
    expect(after.map((r) => r.status)).toEqual(['interrupted', 'done']);
  }, 300_000);
});

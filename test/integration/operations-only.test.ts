import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { withAdmin } from '../../src/adapters/kafka.js';
import type { StatusReport } from '../../src/ops/status.js';
import { runCli } from '../support/cli.js';
import { testNamespace } from '../support/namespace.js';

/**
 * Issue 17's operations-only mode against the shared stack: a target of Kafka and RabbitMQ only,
 * the brokers' real release, hints that fit a remote cluster, and the target in a dry run.
 */
describe('operations-only targets', () => {
  const ns = testNamespace('opsonly');
  const topic = `${ns}.events`;
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-ops-only-'));
  const file = join(dir, 'orderbus.config.json');
  let clusterId = '';

  beforeAll(async () => {
    // A context with only Kafka and RabbitMQ; DLQ patterns that match nothing of other tests.
    writeFileSync(
      file,
      JSON.stringify({
        contexts: {
          ops: {
            components: ['kafka', 'rabbitmq'],
            dlq: { kafkaPatterns: [`${ns}.*.dlq`], rabbitPatterns: [`${ns}.*.dlq`] },
          },
          kafkaOnly: { components: ['kafka'] },
        },
      }),
    );
    await withAdmin(loadConfig(), async (admin) => {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      clusterId = (await admin.describeCluster()).clusterId;
    });
  });

  afterAll(async () => {
    await withAdmin(loadConfig(), (admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
  });

  it('status shows only the configured components, with the brokers real Kafka release', async () => {
    const r = await runCli(['--config', file, '--context', 'ops', 'status', '--json'], {
      // The configured release is not the cluster's: status must ask the brokers.
      env: { ORDERBUS_KAFKA_VERSION: '4.1.1' },
    });
    const s = JSON.parse(r.stdout) as StatusReport;
    expect(s.components.map((c) => [c.name, c.status])).toEqual([
      ['kafka', 'up'],
      ['rabbitmq', 'up'],
    ]);
    const kafka = s.components[0];
    expect(kafka?.version).toBe('3.9');
    expect(kafka?.brokers?.every((b) => b.version === '3.9')).toBe(true);
    // Components up: only lag or dead letters of other tests' groups on the shared stack can
    // make it unhealthy, and the exit code follows that verdict.
    expect(s.problems.filter((p) => /^(kafka|rabbitmq|postgres|registry)\b/.test(p))).toEqual([]);
    expect(r.code).toBe(s.healthy ? 0 : 1);
  }, 60_000);

  it('queues on a target without RabbitMQ is refused, not answered from the local RabbitMQ', async () => {
    const r = await runCli(['--config', file, '--context', 'kafkaOnly', 'queues', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error[NOT_IN_TARGET]: RabbitMQ is not part of this target');
    expect(r.stderr).toContain('hint: orderbus config');
  }, 60_000);

  it('trace on a cluster without the order events topic names the topic, not a driver error', async () => {
    const r = await runCli(['--config', file, '--context', 'kafkaOnly', 'trace', randomUUID()], {
      env: { ORDERBUS_TOPIC_ORDER_EVENTS: `${ns}.no-such-topic` },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error[UNKNOWN_TOPIC]: topic '${ns}.no-such-topic' does not exist on this cluster`,
    );
    expect(r.stderr).toContain('hint: orderbus config');
  }, 60_000);

  it('an unreachable remote bootstrap server gets a hint without stack up', async () => {
    const r = await runCli(['--bootstrap-server', '127.0.0.2:1', 'lag', '--sample', '0'], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[KAFKA_UNREACHABLE]');
    expect(r.stderr).toContain('hint:');
    expect(r.stderr).not.toContain('stack up');
    expect(r.stderr).toContain('orderbus config');
  }, 40_000);

  it('a dry run names its target: context, bootstrap servers, cluster id', async () => {
    const r = await runCli([
      '--config',
      file,
      '--context',
      'ops',
      'replay',
      topic,
      '--from-offset',
      '0',
      '--to-topic',
      `${topic}.copy`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `target: context ops · ${loadConfig().kafka.brokers.join(',')} · cluster ${clusterId}`,
    );
    expect(r.stdout).toContain('dry run');
  }, 60_000);
});

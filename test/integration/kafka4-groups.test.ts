import type { ChildProcess } from 'node:child_process';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { loadConfig } from '../../src/config.js';
import type { LagReport } from '../../src/ops/lag.js';
import { runCli } from '../support/cli.js';
import { apacheDescribe, asToolRows, startConsoleConsumer } from '../support/kafka-tools.js';
import { testNamespace } from '../support/namespace.js';
import { startPrivateKafka, type PrivateKafka } from '../support/private-kafka.js';
import { startPrivateKafkaWith } from '../support/private-kafka-props.js';
import { waitUntil } from '../support/wait.js';

/**
 * Consumer groups of both protocols, driven by Apache's Java console consumer, on a private
 * cluster per Kafka version: classic groups (DescribeGroups) and KIP-848 groups
 * (`group.protocol=consumer`, described by ConsumerGroupDescribe), checked against Apache's
 * `kafka-consumer-groups --describe` from the same release. On 3.9 the consumer protocol is an
 * early-access preview that brokers refuse by default, so only classic groups run there.
 */
const NEWEST_KAFKA_4 = '4.4.0'; // the newest 4.x Maven Central served (4.4.1 and 4.5.0 did not resolve)
const RECORDS_PER_PARTITION = [10, 20, 30];
const TOTAL = RECORDS_PER_PARTITION.reduce((a, b) => a + b, 0);

type Protocol = 'classic' | 'consumer';

describe.each([
  {
    kafka: loadConfig().stack.kafkaVersion,
    // 3.9 runs the consumer protocol only as its preview, switched on per broker.
    start: () =>
      startPrivateKafkaWith(19992, { 'group.coordinator.rebalance.protocols': 'classic,consumer' }),
  },
  { kafka: NEWEST_KAFKA_4, start: () => startPrivateKafka(1, 20092, NEWEST_KAFKA_4) },
])('consumer groups on Kafka $kafka', ({ start }) => {
  const protocols: Protocol[] = ['classic', 'consumer'];
  const ns = testNamespace('groups');
  const topic = `${ns}.events`;
  const groupOf = (p: Protocol) => `${ns}.${p}`;
  let k: PrivateKafka;
  let admin: Admin;
  const consumers: ChildProcess[] = [];
  const cli = (args: string[]) => runCli(['--bootstrap-server', k.brokers.join(','), ...args]);
  const lagOf = async (group: string) => {
    const r = await cli(['lag', '--group', group, '--sample', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as LagReport).groups[0];
  };

  beforeAll(async () => {
    k = await start();
    admin = await connectAdmin(k.config);
    await createTopicsAndWait(admin, [
      { topic, numPartitions: RECORDS_PER_PARTITION.length, replicationFactor: 1 },
    ]);
    const producer = kafkaClient(k.config, ns).producer();
    await producer.connect();
    for (const [partition, n] of RECORDS_PER_PARTITION.entries())
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: n }, (_, i) => ({ partition, key: `k${i}`, value: `v${i}` })),
      });
    await producer.disconnect();
    for (const p of protocols) consumers.push(await startConsoleConsumer(k.config, topic, groupOf(p), p));
    // Each group has consumed and committed everything (a commit needs its member in the group).
    for (const p of protocols)
      await waitUntil(
        `the ${p} group committed every record`,
        async () => {
          const offs = await admin.fetchOffsets({ groupId: groupOf(p), topics: [topic] });
          return offs[0]?.partitions.reduce((s, x) => s + Math.max(0, Number(x.offset)), 0) === TOTAL;
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
  }, 240_000);

  afterAll(async () => {
    for (const c of consumers) c.kill('SIGKILL');
    await admin?.disconnect();
    await k?.stop();
  });

  it.each(protocols)(
    "lag of a live %s group equals Apache's kafka-consumer-groups --describe",
    async (protocol) => {
      const group = groupOf(protocol);
      const ours = await lagOf(group);
      const apache = await apacheDescribe(k.config, group, topic);
      expect(asToolRows(ours?.partitions)).toEqual(apache);
      expect(ours).toMatchObject({ state: 'Stable', members: 1, status: 'OK', protocol });
    },
  );

  it('lists a KIP-848 group and describes it with its member: Stable, 1 member, every partition owned', async () => {
    const g = await lagOf(groupOf('consumer'));
    expect(g).toMatchObject({ protocol: 'consumer', state: 'Stable', members: 1, totalLag: 0 });
    expect(g?.reasons.join(' ')).not.toContain('dead');
    expect(g?.partitions.map((p) => p.owner?.clientId)).toEqual(
      RECORDS_PER_PARTITION.map(() => `${groupOf('consumer')}-client`),
    );
    const all = await cli(['lag', '--sample', '0', '--json']);
    expect((JSON.parse(all.stdout) as LagReport).groups.map((x) => x.group).sort()).toEqual(
      protocols.map(groupOf).sort(),
    );
  });

  it('refuses offsets reset --execute and replay --group on a live KIP-848 group with exit 3 and leaves its offsets', async () => {
    const group = groupOf('consumer');
    const r = await cli([
      'offsets',
      'reset',
      '--group',
      group,
      '--topic',
      topic,
      '--to-earliest',
      '--execute',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain('error[GROUP_ACTIVE]');
    expect(r.stderr).toContain('1 active member');
    // replay --group rewinds through the same reset: refused the same way.
    const replay = await cli(['replay', topic, '--from-offset', '0', '--group', group, '--execute']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(3);
    expect(replay.stderr).toContain('error[GROUP_ACTIVE]');
    const rows = await apacheDescribe(k.config, group, topic);
    expect(rows.map((x) => x.current)).toEqual(RECORDS_PER_PARTITION);
  });
});

import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../../src/adapters/kafka.js';
import { describeGroupsArgs } from '../../support/kafka-tools.js';
import type { Benchmark, Sample } from '../harness.js';
import { config, peakRss, runId, timed, timedOrderbus } from './timed.js';

/** lag: `orderbus lag` over 50 and 200 groups, against Apache kafka-consumer-groups --describe. */

const lagTopic = `bench-lag-${runId}`;
const groupName = (i: number) => `bench-lag-${runId}-g${i}`;

/** A wall time (`seconds`) as a figure in ms. */
function wallMs(
  metric: string,
  seconds: number,
  command: string,
  o: { reference?: { name: string; seconds: number }; goal?: string } = {},
): Sample {
  return {
    metric,
    value: seconds * 1000,
    unit: 'ms',
    better: 'lower',
    ...(o.reference ? { reference: { name: o.reference.name, value: o.reference.seconds * 1000 } } : {}),
    ...(o.goal ? { goal: o.goal } : {}),
    command,
  };
}

export const lagBench: Benchmark = {
  name: 'lag',
  description:
    '`orderbus lag --json --sample 0` over 50 and 200 consumer groups x 12 partitions (time lag included), against Apache kafka-consumer-groups --describe of the same 50 groups',
  runs: 5,
  async setup() {
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [{ topic: lagTopic, numPartitions: 12, replicationFactor: 1 }]);
    const producer = kafkaClient(config, 'bench-lag').producer();
    await producer.connect();
    for (let p = 0; p < 12; p++)
      await producer.send({
        topic: lagTopic,
        acks: -1,
        messages: Array.from({ length: 200 }, (_, i) => ({ partition: p, value: `r${i}` })),
      });
    await producer.disconnect();
    // Committing offsets creates the groups; ten at a time.
    const pending = Array.from({ length: 200 }, (_, g) => g);
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let g = pending.shift(); g !== undefined; g = pending.shift())
          await admin.setOffsets({
            groupId: groupName(g),
            topic: lagTopic,
            partitions: Array.from({ length: 12 }, (_, p) => ({
              partition: p,
              offset: String((g * 7 + p) % 200),
            })),
          });
      }),
    );
    await admin.disconnect();
  },
  async teardown() {
    const admin = await connectAdmin(config);
    await admin.deleteGroups(Array.from({ length: 200 }, (_, g) => groupName(g))).catch(() => undefined);
    await admin.deleteTopics({ topics: [lagTopic] }).catch(() => undefined);
    await admin.disconnect();
  },
  async run(): Promise<Sample[]> {
    const names = (n: number) => Array.from({ length: n }, (_, g) => groupName(g));
    const groups = (n: number) => names(n).flatMap((g) => ['--group', g]);
    const fifty = await timedOrderbus(['lag', ...groups(50), '--sample', '0', '--json']);
    const parsed = JSON.parse(fifty.stdout) as { groups: { partitions: unknown[] }[] };
    if (parsed.groups.length !== 50 || parsed.groups.some((g) => g.partitions.length !== 12))
      throw new Error('lag did not return 50 groups x 12 partitions');
    const all = await timedOrderbus(['lag', ...groups(200), '--sample', '0', '--json']);
    const apache = await timed('java', await describeGroupsArgs(config, names(50)));
    const help = await timedOrderbus(['--help']);
    const cmd = 'orderbus lag --group G1 … --group G50 --sample 0 --json';
    return [
      wallMs('lag, 50 groups x 12 partitions (wall, node start-up included)', fifty.seconds, cmd, {
        reference: { name: 'kafka-consumer-groups --describe, same 50 groups', seconds: apache.seconds },
        goal: 'well under 1 s',
      }),
      wallMs(
        'lag, 50 groups: time beyond node start-up (orderbus --help)',
        fifty.seconds - help.seconds,
        cmd,
      ),
      wallMs(
        'lag, 200 groups x 12 partitions (wall)',
        all.seconds,
        'orderbus lag --group G1 … --group G200 --sample 0 --json',
        { reference: { name: 'lag, 50 groups (cost growth: 4x the groups)', seconds: fifty.seconds } },
      ),
      peakRss('orderbus lag, 200 groups', all, '/usr/bin/time -f %M orderbus lag … (200 groups)', {
        name: 'orderbus --help',
        run: help,
      }),
    ];
  },
};

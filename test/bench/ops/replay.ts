import { connectAdmin, createTopicsAndWait } from '../../../src/adapters/kafka.js';
import type { Benchmark, Sample } from '../harness.js';
import { kafkaConsumerPerformance, kafkaProducerPerformance } from '../references.js';
import { config, peakRss, runId, timedOrderbus } from './timed.js';

/** replay: `orderbus replay --to-topic --execute`, against Kafka's Producer- and ConsumerPerformance. */

const REPLAY_N = Number(process.env.ORDERBUS_BENCH_REPLAY ?? 1_000_000);
let replayRun = 0;
const replayTopics: string[] = [];

export const replayBench: Benchmark = {
  name: 'replay',
  description: `\`orderbus replay --to-topic --execute\` of ${REPLAY_N.toLocaleString('en-US')} records of 200 bytes (12 partitions), against Kafka's ProducerPerformance (acks=all, idempotent) and ConsumerPerformance on the same data`,
  runs: 3,
  async teardown() {
    const admin = await connectAdmin(config);
    await admin.deleteTopics({ topics: replayTopics }).catch(() => undefined);
    await admin.disconnect();
  },
  async run(): Promise<Sample[]> {
    replayRun++;
    const src = `bench-replay-${runId}-${replayRun}`;
    const dst = `${src}.copy`;
    replayTopics.push(src, dst);
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [{ topic: src, numPartitions: 12, replicationFactor: 1 }]);
    await admin.disconnect();
    const producerRef = await kafkaProducerPerformance(config, src, REPLAY_N, 200);
    const consumerRef = await kafkaConsumerPerformance(config, src, REPLAY_N);
    const r = await timedOrderbus([
      'replay',
      src,
      '--from-offset',
      '0',
      '--to-topic',
      dst,
      '--execute',
      '--json',
    ]);
    const result = JSON.parse(r.stdout) as { copied: number; seconds: number };
    if (result.copied !== REPLAY_N) throw new Error(`replay copied ${result.copied} of ${REPLAY_N}`);
    const rate = REPLAY_N / r.seconds;
    return [
      {
        metric: `replay --to-topic, ${REPLAY_N} records (wall)`,
        value: rate,
        unit: 'records/s',
        better: 'higher',
        reference: { name: 'Kafka ProducerPerformance', value: producerRef },
        goal: '≥ 25 % of ProducerPerformance',
        command: `orderbus replay ${src} --from-offset 0 --to-topic ${dst} --execute --json`,
      },
      {
        metric: `replay --to-topic vs reading alone`,
        value: rate,
        unit: 'records/s',
        better: 'higher',
        reference: { name: 'Kafka ConsumerPerformance', value: consumerRef },
        command: 'same run',
      },
      peakRss('replay', r, '/usr/bin/time -f %M orderbus replay …'),
    ];
  },
};

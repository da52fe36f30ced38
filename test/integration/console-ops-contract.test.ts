import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import { OpsAdapter } from '../../ui/ops-adapter.js';
import { consoleOpsContract, type ContractWorld, type Seed } from '../support/console-ops-contract.js';
import { deadLetterWebhooks, webhookTask } from '../support/dead-letters.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';

/**
 * The port's contract against the real OpsAdapter on the running stack, each case in its own
 * namespace: a topic and group seeded through Kafka, dead letters made by the real webhook worker.
 */
async function seedKafka(p: TestPipeline, seed: Seed, topic: string, group: string): Promise<void> {
  const admin = await connectAdmin(p.config);
  try {
    await createTopicsAndWait(admin, [
      { topic, numPartitions: seed.partitions.length, replicationFactor: p.config.topics.replicationFactor },
    ]);
    const producer = kafkaClient(p.config, p.ns).producer();
    await producer.connect();
    for (const [partition, { records }] of seed.partitions.entries())
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: records }, (_, i) => ({ partition, key: `k${i}`, value: `v${i}` })),
      });
    await producer.disconnect();
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: seed.partitions.flatMap(({ committed }, partition) =>
        committed === null ? [] : [{ partition, offset: String(committed) }],
      ),
    });
  } finally {
    await admin.disconnect();
  }
}

async function realWorld(seed: Seed): Promise<ContractWorld> {
  const p = await startTestPipeline({ label: 'contract', services: ['webhook-worker'] });
  const topic = `${p.ns}.contract`;
  const group = `${p.ns}.contract-group`;
  const cleanup = async () => {
    const admin = await connectAdmin(p.config);
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await p.stop();
  };
  try {
    await seedKafka(p, seed, topic, group);
    const { t, dlq } = await deadLetterWebhooks(p, seed.deadLetters);
    return {
      ops: new OpsAdapter(p.config),
      group,
      topic,
      queue: t.queues['webhook.tasks'],
      dlq,
      kafkaDlq: p.config.topics.orderEventsDlq,
      letters: Array.from({ length: seed.deadLetters }, (_, i) => webhookTask(p, i, '').taskId),
      fixUrl: { from: `${p.providers.webhook.url}/hooks/v1`, to: `${p.providers.webhook.url}/hooks/v2` },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

consoleOpsContract('OpsAdapter on the real stack', realWorld);

import type { TestProject } from 'vitest/node';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';
import { claimKafka4, KAFKA_4, releaseKafka4 } from './shared-kafka4-claim.js';

/**
 * The integration run's shared Kafka 4.x broker (shared-kafka4.ts): its jars resolved (once per
 * machine, before any file runs), its ports claimed; the first file that needs it starts it, and
 * the returned teardown stops it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureKafkaJars(KAFKA_4, (s) => process.stderr.write(`integration tests: ${s}\n`));
  const claim = await claimKafka4();
  project.provide('sharedKafka4', claim);
  return () => releaseKafka4(claim);
}

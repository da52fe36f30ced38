import { join } from 'node:path';
import type { OrderbusConfig } from '../../src/config.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';

/** The `java` arguments that run one of Kafka's own tools (its main class) from the stack's Kafka jars. */
export async function kafkaToolArgs(
  config: OrderbusConfig,
  mainClass: string,
  args: string[],
  jvmOptions: string[] = [],
): Promise<string[]> {
  const libs = await ensureKafkaJars(config.stack.kafkaVersion, () => undefined);
  return [...jvmOptions, '-cp', join(libs, '*'), mainClass, ...args];
}

/** `kafka-consumer-groups --describe --group G…` as `java` arguments. */
export function describeGroupsArgs(config: OrderbusConfig, groups: string[]): Promise<string[]> {
  return kafkaToolArgs(config, 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
    '--bootstrap-server',
    config.kafka.brokers.join(','),
    '--describe',
    ...groups.flatMap((g) => ['--group', g]),
  ]);
}

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OrderbusConfig } from '../../src/config.js';
import type { PartitionLag } from '../../src/ops/lag.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';

const run = promisify(execFile);

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

/** One row of Kafka's own `kafka-consumer-groups --describe`. */
export interface ToolRow {
  topic: string;
  partition: number;
  current: number | null;
  end: number;
  lag: number | null;
  consumerId: string;
  host: string;
  clientId: string;
}

/** Kafka's own `kafka-consumer-groups --describe` of `group`: its rows on `topic`, by partition. */
export async function apacheDescribe(
  config: OrderbusConfig,
  group: string,
  topic: string,
): Promise<ToolRow[]> {
  const { stdout } = await run('java', await describeGroupsArgs(config, [group]), { timeout: 60_000 });
  const nul = (s: string | undefined) => (s === undefined || s === '-' ? null : Number(s));
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[0] === group && c[1] === topic)
    .map((c) => ({
      topic,
      partition: Number(c[2]),
      current: nul(c[3]),
      end: Number(c[4]),
      lag: nul(c[5]),
      consumerId: c[6] as string,
      host: c[7] as string,
      clientId: c[8] as string,
    }))
    .sort((a, b) => a.partition - b.partition);
}

/** `orderbus lag`'s partitions as the rows Kafka's tool prints ('-' where nobody owns one). */
export function asToolRows(partitions: PartitionLag[] | undefined): ToolRow[] {
  return (partitions ?? []).map((p) => ({
    topic: p.topic,
    partition: p.partition,
    current: p.committed,
    end: p.logEnd,
    lag: p.lag,
    consumerId: p.owner?.memberId ?? '-',
    host: p.owner?.host ?? '-',
    clientId: p.owner?.clientId ?? '-',
  }));
}

/**
 * Apache's Java console consumer (`kafka-console-consumer`) in `group` with the given group
 * protocol ('consumer' is KIP-848's), from the beginning, committing every half second; its
 * records are dropped. Stop it with `kill()`.
 */
export async function startConsoleConsumer(
  config: OrderbusConfig,
  topic: string,
  group: string,
  protocol: 'classic' | 'consumer',
): Promise<ChildProcess> {
  const args = await kafkaToolArgs(
    config,
    'org.apache.kafka.tools.consumer.ConsoleConsumer',
    [
      ...['--bootstrap-server', config.kafka.brokers.join(','), '--topic', topic, '--group', group],
      '--from-beginning',
      ...['--consumer-property', `group.protocol=${protocol}`],
      ...['--consumer-property', 'auto.commit.interval.ms=500'],
      ...['--consumer-property', `client.id=${group}-client`],
    ],
    ['-Xmx128m'],
  );
  const child = spawn('java', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return child;
}

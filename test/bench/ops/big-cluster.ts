import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { OrderbusConfig } from '../../../src/config.js';
import { connectAdmin, createTopicsAndWait, kafkaClient } from '../../../src/adapters/kafka.js';
import { ensureKafkaJars } from '../../../src/devstack/stack/artifacts.js';
import { prepareCluster, startKafkaNode, waitForCluster } from '../../../src/devstack/stack/kafka-cluster.js';
import { processAlive, stopProcess } from '../../../src/devstack/stack/processes.js';
import type { KafkaNodeState } from '../../../src/devstack/stack/state.js';
import { OpsContext } from '../../../src/ops/context.js';
import { watermarks } from '../../../src/ops/lag.js';
import { dataDir } from '../../../src/paths.js';
import { ensureBigDlq, ensureBigOrderEvents } from './big-records.js';
import { config as baseConfig } from './timed.js';

/**
 * The big-cluster fixture: a private 3-broker Kafka (ports 19192–19197, data under the stack's
 * data dir in bench-big-cluster, kept between runs) holding 500 topics x 20 partitions (10,000
 * partitions), 1,000 consumer groups with committed offsets at varied lag (group g commits every
 * partition of topic g mod 500: 20,000 group partitions), and what big-records.ts adds (a Kafka
 * DLQ of 1,000,000 records, an order.events of 5,000,000). Built once; a later run counts what is
 * there (one ListGroups per broker, one metadata request, one ListOffsets per leader) and builds
 * only what is missing.
 */
export const BIG_TOPICS = 500;
export const BIG_PARTITIONS = 20;
export const BIG_GROUPS = 1000;
/** Records per partition of the lag topics. */
export const BIG_RECORDS = 40;
/**
 * Replication factor 1 for the 10,000 lag partitions: 3,334 replicas per broker. RF 3 would put
 * all 10,000 on every broker — an open segment file each (10,000 of the 20,000 `ulimit -n`) and
 * two memory-mapped indexes (20,000 of the 65,530 vm.max_map_count), and 6,667 follower replicas
 * per broker fetching on the machine's 2 shared cores. The measured commands read leaders and
 * group coordinators only: the replication factor changes neither their requests nor the answers.
 */
export const BIG_REPLICATION = 1;
const BASE_PORT = 19192;
const HEAP_MB = 1024;

export const bigTopic = (t: number): string => `big-t${String(t).padStart(3, '0')}`;
export const bigGroup = (g: number): string => `big-g${String(g).padStart(4, '0')}`;
/** The committed offset of group g on partition p: lag from 0 to BIG_RECORDS, every tenth group caught up. */
export const bigCommit = (g: number, p: number): number =>
  g % 10 === 0 ? BIG_RECORDS : (g * 7 + p * 3) % (BIG_RECORDS + 1);

export interface BigCluster {
  config: OrderbusConfig;
  env: Record<string, string>;
  groups: string[];
  topics: string[];
}

function bigConfig(brokers: string[]): OrderbusConfig {
  return {
    ...baseConfig,
    kafka: { ...baseConfig.kafka, brokers, clusterId: undefined },
    topics: { ...baseConfig.topics, replicationFactor: BIG_REPLICATION },
    components: ['kafka'],
  };
}

/** Starts the private brokers unless they run, then builds what the fixture lacks. */
export async function openBigCluster(
  log: (line: string) => void,
): Promise<BigCluster & { close(): Promise<void> }> {
  const dir = join(dataDir(baseConfig), 'bench-big-cluster');
  const libs = await ensureKafkaJars(baseConfig.stack.kafkaVersion, log);
  const { specs } = await prepareCluster(dir, 3, libs, BASE_PORT);
  const stateFile = join(dir, 'nodes.json');
  const previous = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as KafkaNodeState[])
    : [];
  const nodes: KafkaNodeState[] = [];
  for (const spec of specs)
    nodes.push(
      await startKafkaNode(
        spec,
        libs,
        HEAP_MB,
        previous.find((n) => n.nodeId === spec.nodeId),
      ),
    );
  writeFileSync(stateFile, JSON.stringify(nodes, null, 2));
  const brokers = specs.map((s) => `127.0.0.1:${s.port}`);
  const config = bigConfig(brokers);
  const close = async () => {
    await Promise.all(nodes.filter((n) => processAlive(n.pid)).map((n) => stopProcess(n.pid, 60_000)));
  };
  try {
    log(`big-cluster: brokers ${brokers.join(',')} (data kept in ${dir})`);
    // A broker loading 3,000+ partitions takes a while after a restart.
    await waitForCluster(config, nodes, 300_000);
    const topics = Array.from({ length: BIG_TOPICS }, (_, t) => bigTopic(t));
    const groups = Array.from({ length: BIG_GROUPS }, (_, g) => bigGroup(g));
    const admin = await connectAdmin(config);
    try {
      await ensureTopics(admin, topics, log);
      await ensureRecords(config, topics, log);
      await ensureGroups(config, groups, log);
    } finally {
      await admin.disconnect();
    }
    await ensureBigDlq(config, log);
    await ensureBigOrderEvents(config, log);
    const env = {
      ORDERBUS_KAFKA_BROKERS: brokers.join(','),
      ORDERBUS_COMPONENTS: 'kafka',
      ORDERBUS_TOPIC_REPLICATION_FACTOR: String(BIG_REPLICATION),
    };
    return { config, env, groups, topics, close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function ensureTopics(admin: Admin, topics: string[], log: (line: string) => void) {
  const have = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !have.has(t));
  if (missing.length === 0) return;
  log(`big-cluster: creating ${missing.length} topics x ${BIG_PARTITIONS} partitions`);
  for (let i = 0; i < missing.length; i += 50)
    await createTopicsAndWait(
      admin,
      missing
        .slice(i, i + 50)
        .map((topic) => ({ topic, numPartitions: BIG_PARTITIONS, replicationFactor: BIG_REPLICATION })),
      120_000,
    );
}

/** Tops every partition up to BIG_RECORDS records (a partition holding fewer gets the rest). */
async function ensureRecords(config: OrderbusConfig, topics: string[], log: (line: string) => void) {
  const ctx = new OpsContext(config);
  const marks = await watermarks(ctx, topics).finally(() => ctx.close());
  const todo = topics.flatMap((topic) =>
    Array.from({ length: BIG_PARTITIONS }, (_, partition) => ({
      topic,
      partition,
      need: BIG_RECORDS - (marks.get(topic)?.get(partition)?.high ?? 0),
    })).filter((p) => p.need > 0),
  );
  if (todo.length === 0) return;
  log(`big-cluster: filling ${todo.length} partitions to ${BIG_RECORDS} records`);
  const producer = kafkaClient(config, 'bench-big-cluster').producer();
  await producer.connect();
  try {
    const value = 'x'.repeat(100);
    const perTopic = new Map<string, typeof todo>();
    for (const p of todo) perTopic.set(p.topic, [...(perTopic.get(p.topic) ?? []), p]);
    const batches = [...perTopic.entries()];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let b = batches.shift(); b !== undefined; b = batches.shift()) {
          const [topic, parts] = b;
          await producer.send({
            topic,
            acks: -1,
            messages: parts.flatMap(({ partition, need }) =>
              Array.from({ length: need }, (_, i) => ({ partition, key: `k${i}`, value })),
            ),
          });
        }
      }),
    );
  } finally {
    await producer.disconnect();
  }
}

/**
 * Creates each missing group by committing its offsets straight to its coordinator (a standalone
 * commit: an empty classic group keeps them). kafkajs' admin.setOffsets joins each group as a
 * consumer first, seconds per group.
 */
async function ensureGroups(config: OrderbusConfig, groups: string[], log: (line: string) => void) {
  const ctx = new OpsContext(config);
  try {
    // A group counts once it holds offsets on all its partitions (one OffsetFetch per coordinator).
    const committed = await ctx.groups().offsets(groups);
    const missing = groups
      .map((g, i) => ({ g, i }))
      .filter(({ g }) => (committed.get(g) ?? []).flatMap((t) => t.partitions).length < BIG_PARTITIONS);
    if (missing.length === 0) return;
    log(`big-cluster: committing offsets for ${missing.length} groups`);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let m = missing.shift(); m !== undefined; m = missing.shift())
          await ctx.reader().commitGroupOffsets(
            m.g,
            bigTopic(m.i % BIG_TOPICS),
            Array.from({ length: BIG_PARTITIONS }, (_, p) => ({
              partition: p,
              offset: bigCommit(m.i, p),
              metadata: null,
            })),
          );
      }),
    );
  } finally {
    await ctx.close();
  }
}

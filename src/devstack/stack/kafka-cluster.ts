import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { describeBrokers, type ClusterHealth } from '../../adapters/kafka-versions.js';
import { portOpen } from '../../net.js';
import { execFileAsync, portOwner, processAlive, spawnDetached, waitFor } from './processes.js';
import type { KafkaNodeState } from './state.js';

export interface KafkaNodeSpec {
  nodeId: number;
  port: number;
  controllerPort: number;
  dir: string;
}

export const KAFKA_MAIN_CLASS = 'kafka.Kafka';

/** Node 1 on 9092/9093, node 2 on 9094/9095, node 3 on 9096/9097 (other bases for private test clusters). */
export function kafkaNodeSpecs(dataDir: string, brokers: number, basePort = 9092): KafkaNodeSpec[] {
  return Array.from({ length: brokers }, (_, i) => {
    const nodeId = i + 1;
    const port = basePort + 2 * i;
    return {
      nodeId,
      port,
      controllerPort: port + 1,
      dir: join(clusterDir(dataDir, brokers), `node-${nodeId}`),
    };
  });
}

export function clusterDir(dataDir: string, brokers: number): string {
  return join(dataDir, `kafka-${brokers}node`);
}

export function bootstrapBrokers(brokers: number, basePort = 9092): string[] {
  return Array.from({ length: brokers }, (_, i) => `127.0.0.1:${basePort + 2 * i}`);
}

function serverProperties(spec: KafkaNodeSpec, all: KafkaNodeSpec[]): string {
  const rf = all.length >= 3 ? 3 : 1;
  const minIsr = all.length >= 3 ? 2 : 1;
  return [
    'process.roles=broker,controller',
    `node.id=${spec.nodeId}`,
    `controller.quorum.voters=${all.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',')}`,
    `listeners=PLAINTEXT://127.0.0.1:${spec.port},CONTROLLER://127.0.0.1:${spec.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${spec.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(spec.dir, 'data')}`,
    `offsets.topic.replication.factor=${rf}`,
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${minIsr}`,
    'offsets.topic.num.partitions=12',
    'transaction.state.log.num.partitions=12',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'log.retention.hours=168',
    // Small segments keep a laptop's disk in check and let retention work in drills.
    'log.segment.bytes=268435456',
    'unclean.leader.election.enable=false',
    '',
  ].join('\n');
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;

function java(libs: string, heapMb: number, extra: string[]): string[] {
  return [
    `-Xms${Math.min(256, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    '-cp',
    `${libs}/*`,
    ...extra,
  ];
}

/** Formats storage once per node (idempotent: a formatted node keeps its data). */
export async function prepareCluster(
  dataDir: string,
  brokers: number,
  libs: string,
  basePort = 9092,
): Promise<{ specs: KafkaNodeSpec[]; clusterId: string }> {
  const specs = kafkaNodeSpecs(dataDir, brokers, basePort);
  const cdir = clusterDir(dataDir, brokers);
  mkdirSync(cdir, { recursive: true });
  const idFile = join(cdir, 'cluster-id');
  let clusterId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '';
  if (!clusterId) {
    clusterId = await newClusterId(libs);
    writeFileSync(idFile, clusterId);
  }
  writeFileSync(join(cdir, 'log4j.properties'), LOG4J);
  for (const spec of specs) {
    mkdirSync(spec.dir, { recursive: true });
    const cfg = join(spec.dir, 'server.properties');
    writeFileSync(cfg, serverProperties(spec, specs));
    if (!existsSync(join(spec.dir, 'data', 'meta.properties')))
      await formatStorage(libs, cdir, cfg, clusterId);
  }
  return { specs, clusterId };
}

export async function newClusterId(libs: string): Promise<string> {
  const { stdout } = await execFileAsync('java', [
    '-cp',
    `${libs}/*`,
    'kafka.tools.StorageTool',
    'random-uuid',
  ]);
  return stdout.trim().split('\n').pop() ?? '';
}

/**
 * Formats a node's storage for KRaft (`cdir` holds log4j.properties; it is written if missing).
 * `extra` adds StorageTool arguments, e.g. `--add-scram` users, which KRaft takes only here.
 */
export async function formatStorage(
  libs: string,
  cdir: string,
  configFile: string,
  clusterId: string,
  extra: string[] = [],
): Promise<void> {
  const log4j = join(cdir, 'log4j.properties');
  if (!existsSync(log4j)) writeFileSync(log4j, LOG4J);
  await execFileAsync('java', [
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    `${libs}/*`,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    configFile,
    '--ignore-formatted',
    ...extra,
  ]);
}

/** Starts one node unless ours is already running; refuses a port held by something else. */
export async function startKafkaNode(
  spec: KafkaNodeSpec,
  libs: string,
  heapMb: number,
  current?: KafkaNodeState,
): Promise<KafkaNodeState> {
  const configFile = join(spec.dir, 'server.properties');
  if (current && processAlive(current.pid, configFile)) return current;
  for (const port of [spec.port, spec.controllerPort]) {
    if (await portOpen(port)) {
      const owner = await portOwner(port);
      throw new OrderbusError(
        'PORT_IN_USE',
        `port ${port} (Kafka node ${spec.nodeId}) is already taken by ${owner ?? 'another process'} that orderbus did not start`,
        {
          hint: `stop that process (or free port ${port}), then orderbus stack up`,
          subject: `127.0.0.1:${port}`,
        },
      );
    }
  }
  const logFile = join(spec.dir, 'kafka.log');
  const cdir = join(spec.dir, '..');
  const pid = spawnDetached(
    'java',
    java(libs, heapMb, [
      `-Dlog4j.configuration=file:${join(cdir, 'log4j.properties')}`,
      `-Dkafka.logs.dir=${spec.dir}`,
      KAFKA_MAIN_CLASS,
      configFile,
    ]),
    logFile,
    spec.dir,
  );
  return {
    nodeId: spec.nodeId,
    pid,
    port: spec.port,
    controllerPort: spec.controllerPort,
    configFile,
    logFile,
  };
}

/** Waits until every node is registered with the cluster. */
export async function waitForCluster(
  config: OrderbusConfig,
  nodes: KafkaNodeState[],
  timeoutMs: number,
): Promise<ClusterHealth> {
  const brokers = nodes.map((n) => `127.0.0.1:${n.port}`);
  return waitFor(
    'kafka',
    async () => {
      for (const n of nodes) {
        if (!processAlive(n.pid)) {
          const tail = existsSync(n.logFile)
            ? readFileSync(n.logFile, 'utf8')
                .split('\n')
                .filter((l) => /ERROR|Exception/.test(l))
                .slice(-3)
                .join('\n')
            : '';
          throw new OrderbusError(
            'KAFKA_START_FAILED',
            `Kafka node ${n.nodeId} exited during start-up. ${tail}`,
            { hint: `less ${n.logFile}` },
          );
        }
      }
      const h = await describeBrokers(config, brokers);
      return h.brokers.length >= nodes.length && h.controller !== null && h.controller >= 0 ? h : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      onTimeout: () =>
        new OrderbusError('KAFKA_START_TIMEOUT', `Kafka did not become healthy within ${timeoutMs / 1000}s`, {
          hint: `less ${nodes[0]?.logFile ?? 'the Kafka log'}`,
        }),
    },
  );
}

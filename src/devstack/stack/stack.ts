import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { COMPONENTS, type OrderbusConfig } from '../../config.js';
import { ExitCode, OrderbusError } from '../../errors.js';
import { kafkaClient } from '../../adapters/kafka.js';
import { ensureKafkaJars, ensureRegistry, requireJavaAndMaven } from './artifacts.js';
import {
  bootstrapBrokers,
  clusterDir,
  prepareCluster,
  startKafkaNode,
  waitForCluster,
} from './kafka-cluster.js';
import { dataDir } from '../../paths.js';
import { dropDatabase, ensureDatabase, registryDatabaseName, setupPostgres } from './postgres-setup.js';
import { portOpen } from '../../net.js';
import { componentHealth, type ComponentStatus } from '../../ops/health.js';
import { processAlive, stopProcess } from './processes.js';
import {
  rabbitClusterConfig,
  rabbitNodeAlive,
  rabbitNodeSpecs,
  startRabbitCluster,
  stopRabbitCluster,
  type RabbitNodeState,
} from './rabbit-cluster.js';
import { setupRabbitmq } from './rabbitmq-setup.js';
import { REGISTRY_MARKER, startRegistry, waitForRegistry } from './registry-process.js';
import { readState, writeState, type StackState } from './state.js';
import { ensureTopics, pipelineTopics } from './topics.js';
import { composeAvailable, composeDown, composeUp } from './compose.js';

export interface StackUpOptions {
  brokers?: number;
  /** 1: the machine's RabbitMQ (classic queues); 3: a private cluster with quorum queues. */
  rabbitNodes?: number;
  log?: (line: string) => void;
  /** Force the local-process stack even when a Docker engine answers. */
  local?: boolean;
}

export interface StackUpResult {
  mode: 'local' | 'compose';
  brokers: number;
  rabbitNodes: number;
  changed: string[];
  endpoints: Record<string, string>;
  seconds: number;
}

/** Brings up every component and waits until healthy. Idempotent: a second call changes nothing. */
export async function stackUp(config: OrderbusConfig, options: StackUpOptions = {}): Promise<StackUpResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const brokers = options.brokers ?? config.stack.brokers;
  const dir = dataDir(config);
  mkdirSync(dir, { recursive: true });
  const previous = readState(dir);
  if (!options.local && !previous && (await composeAvailable())) {
    await composeUp(log);
    writeState(dir, { mode: 'compose', brokers: 1, kafka: [], updatedAt: '' });
    const kc: OrderbusConfig = { ...config, kafka: { ...config.kafka, brokers: bootstrapBrokers(1) } };
    const [, , created] = await Promise.all([
      setupPostgres(config),
      setupRabbitmq(config, log, { enablePlugins: false }),
      createTopics(kc, 1),
    ]);
    return {
      mode: 'compose',
      brokers: 1,
      rabbitNodes: 1,
      changed: ['compose', ...created],
      endpoints: endpoints(config, kc.kafka.brokers),
      seconds: (Date.now() - started) / 1000,
    };
  }
  if (
    previous &&
    previous.mode === 'local' &&
    previous.brokers !== brokers &&
    previous.kafka.some((n) => processAlive(n.pid))
  ) {
    throw new OrderbusError(
      'STACK_SHAPE_MISMATCH',
      `a ${previous.brokers}-broker Kafka is running; refusing to start a ${brokers}-broker one beside it`,
      {
        hint: `orderbus stack down, then orderbus stack up --brokers ${brokers}`,
        exitCode: ExitCode.unsafe,
      },
    );
  }
  const rabbitNodes = options.rabbitNodes ?? 1;
  refuseRabbitShapeChange(previous, rabbitNodes);
  const changed: string[] = [];
  const kcfg: OrderbusConfig = { ...config, kafka: { ...config.kafka, brokers: bootstrapBrokers(brokers) } };

  // Fail early and clearly on missing prerequisites, before any download.
  await requireJavaAndMaven(false);
  const pg = setupPostgres(config);
  const cluster = rabbitNodes > 1 ? startRabbitCluster(rabbitNodeSpecs(dir, rabbitNodes), log) : undefined;
  const rcfg =
    rabbitNodes > 1 ? { ...config, rabbitmq: rabbitmqOf(config, rabbitNodeSpecs(dir, rabbitNodes)) } : config;
  // The cluster's nodes carry their plugins in their own enabled_plugins file.
  const rabbit = cluster
    ? cluster.then(() => setupRabbitmq(rcfg, log, { enablePlugins: false }))
    : setupRabbitmq(config, log);
  // Let both run while the JVMs start; surface their errors after.
  pg.catch(() => undefined);
  rabbit.catch(() => undefined);

  const libs = await ensureKafkaJars(config.stack.kafkaVersion, log);
  const { specs, clusterId } = await prepareCluster(dir, brokers, libs);
  const state: StackState = {
    mode: 'local',
    brokers,
    clusterId,
    kafka: [],
    ...(previous?.registry ? { registry: previous.registry } : {}),
    ...(previous?.startedRabbitmq ? { startedRabbitmq: true } : {}),
    updatedAt: '',
  };
  if (cluster) {
    const nodes = await cluster;
    for (const n of nodes)
      if (!previous?.rabbit?.some((p) => p.node === n.node && p.pid === n.pid))
        changed.push(`rabbitmq node ${n.node} (pid ${n.pid})`);
    state.rabbit = nodes;
    writeState(dir, state);
  }
  for (const spec of specs) {
    const current =
      previous?.brokers === brokers ? previous.kafka.find((n) => n.nodeId === spec.nodeId) : undefined;
    const node = await startKafkaNode(spec, libs, config.stack.kafkaHeapMb, current);
    if (node !== current) changed.push(`kafka node ${spec.nodeId} (pid ${node.pid})`);
    state.kafka.push(node);
    writeState(dir, state);
  }
  const jar = await ensureRegistry(config.stack.registryVersion, log);
  if ((await ensureDatabase(config, registryDatabaseName(config))).created)
    changed.push('registry database created');
  const registry = await startRegistry(config, jar, dir, previous?.registry);
  if (registry !== previous?.registry) changed.push(`schema registry (pid ${registry.pid})`);
  state.registry = registry;
  writeState(dir, state);

  log(`waiting for Kafka (${brokers} broker${brokers > 1 ? 's' : ''}) and the schema registry`);
  await waitForCluster(kcfg, state.kafka, 120_000);
  await waitForRegistry(config, registry.pid, registry.logFile, 120_000);

  const pgResult = await pg;
  if (pgResult.databaseCreated) changed.push('postgres database created');
  if (pgResult.migrationsApplied.length > 0)
    changed.push(`migrations ${pgResult.migrationsApplied.join(', ')}`);
  const rabbitResult = await rabbit;
  if (rabbitResult.started) {
    changed.push('rabbitmq started');
    state.startedRabbitmq = true;
  }
  if (rabbitResult.pluginsEnabled.length > 0)
    changed.push(`rabbitmq plugins ${rabbitResult.pluginsEnabled.join(' ')}`);

  changed.push(...(await createTopics(kcfg, brokers)));
  writeState(dir, state);
  return {
    mode: 'local',
    brokers,
    rabbitNodes,
    changed,
    endpoints: endpoints(rcfg, kcfg.kafka.brokers),
    seconds: (Date.now() - started) / 1000,
  };
}

/** The config's RabbitMQ section pointed at the private cluster (the local-stack layer says the same). */
function rabbitmqOf(config: OrderbusConfig, nodes: ReturnType<typeof rabbitNodeSpecs>) {
  return { ...config.rabbitmq, ...rabbitClusterConfig(nodes) };
}

function refuseRabbitShapeChange(previous: StackState | undefined, rabbitNodes: number): void {
  const running = (previous?.rabbit ?? []).filter(rabbitNodeAlive).length;
  if (running === 0 || running === rabbitNodes) return;
  throw new OrderbusError(
    'STACK_SHAPE_MISMATCH',
    `a ${running}-node RabbitMQ cluster is running; refusing to ${rabbitNodes === 1 ? 'use the machine node' : `start a ${rabbitNodes}-node one`} beside it`,
    {
      hint: `orderbus stack down, then orderbus stack up --rabbit-nodes ${rabbitNodes}`,
      exitCode: ExitCode.unsafe,
    },
  );
}

async function createTopics(kcfg: OrderbusConfig, brokers: number): Promise<string[]> {
  const admin = kafkaClient(kcfg, 'orderbus-stack').admin();
  await admin.connect();
  try {
    const created = await ensureTopics(admin, pipelineTopics(kcfg), brokers >= 3 ? 3 : 1);
    return created.length > 0 ? [`topics ${created.join(', ')}`] : [];
  } finally {
    await admin.disconnect();
  }
}

function endpoints(config: OrderbusConfig, brokers: string[]): Record<string, string> {
  const mgmt = new URL(config.rabbitmq.managementUrl);
  mgmt.username = '';
  mgmt.password = '';
  const amqp = [config.rabbitmq.url, ...config.rabbitmq.failoverUrls].map((u) => new URL(u));
  const db = new URL(config.database.url);
  return {
    kafka: brokers.join(','),
    registry: config.registry.url,
    rabbitmq: amqp.map((u) => `${u.protocol}//${u.host}`).join(','),
    'rabbitmq-management': mgmt.toString(),
    postgres: `${db.protocol}//${db.host}${db.pathname}`,
  };
}

export interface StackDownResult {
  stopped: string[];
  purged: boolean;
}

/** Stops only what `up` started (by PID), cleanly; keeps data unless `purge`. */
export async function stackDown(
  config: OrderbusConfig,
  options: { purge?: boolean; log?: (s: string) => void } = {},
): Promise<StackDownResult> {
  const dir = dataDir(config);
  const state = readState(dir);
  const stopped: string[] = [];
  if (state?.mode === 'compose') {
    await composeDown(options.purge ?? false, options.log ?? (() => undefined));
    stopped.push('compose');
  }
  if (state?.registry && processAlive(state.registry.pid, REGISTRY_MARKER)) {
    await stopProcess(state.registry.pid);
    stopped.push(`schema registry (pid ${state.registry.pid})`);
  }
  // Brokers before controllers would matter with split roles; with combined roles, stop in reverse.
  for (const node of [...(state?.kafka ?? [])].reverse()) {
    if (processAlive(node.pid, node.configFile)) {
      await stopProcess(node.pid, 30000);
      stopped.push(`kafka node ${node.nodeId} (pid ${node.pid})`);
    }
  }
  stopped.push(...(await stopRabbitCluster(state?.rabbit ?? [])));
  if (state) {
    const { rabbit: _stopped, ...rest } = state;
    writeState(dir, { ...rest, kafka: [], updatedAt: '' });
  }
  if (options.purge) {
    for (const b of [1, 3]) rmSync(clusterDir(dir, b), { recursive: true, force: true });
    rmSync(`${dir}/rabbit-3node`, { recursive: true, force: true });
    rmSync(`${dir}/registry`, { recursive: true, force: true });
    rmSync(`${dir}/stack.json`, { force: true });
    rmSync(`${dir}/local-stack.config.json`, { force: true });
    await dropDatabase(config, registryDatabaseName(config));
  }
  return { stopped, purged: options.purge ?? false };
}

export type { ComponentStatus };

export interface StackStatus {
  mode: 'local' | 'compose' | 'none';
  healthy: boolean;
  components: ComponentStatus[];
}

/** The components' own health (src/ops/health.ts) plus what this launcher started: PIDs, nodes. */
export async function stackStatus(config: OrderbusConfig): Promise<StackStatus> {
  const dir = dataDir(config);
  const state = readState(dir);
  const [kafka, ...others] = await componentHealth(config, COMPONENTS);
  const components = [
    await withKafkaNodes(kafka!, state),
    ...(await Promise.all(others.map((c) => withRabbitNodes(withRegistryPid(c, state), state?.rabbit)))),
  ];
  return { mode: state?.mode ?? 'none', healthy: components.every((c) => c.status === 'up'), components };
}

async function withKafkaNodes(
  kafka: ComponentStatus,
  state: StackState | undefined,
): Promise<ComponentStatus> {
  const nodes = state?.kafka ?? [];
  if (nodes.length === 0) return kafka;
  type BrokerStatus = NonNullable<ComponentStatus['brokers']>[number];
  const nodeStatus = await Promise.all(
    nodes.map(async (n): Promise<BrokerStatus> => ({
      nodeId: n.nodeId,
      address: `127.0.0.1:${n.port}`,
      pid: n.pid,
      status: (await portOpen(n.port, '127.0.0.1', 500)) && processAlive(n.pid) ? 'up' : 'down',
    })),
  );
  const registered = kafka.brokers?.length ?? 0;
  const status =
    kafka.status === 'down'
      ? 'down'
      : registered >= nodes.length && nodeStatus.every((n) => n.status === 'up')
        ? 'up'
        : 'degraded';
  return { ...kafka, status, brokers: nodeStatus, pid: nodes[0]?.pid };
}

/** The cluster's nodes (as `brokers`, numbered 1…): degraded while one is down. */
async function withRabbitNodes(
  c: ComponentStatus,
  nodes: RabbitNodeState[] | undefined,
): Promise<ComponentStatus> {
  if (c.name !== 'rabbitmq' || !nodes || nodes.length === 0) return c;
  const nodeStatus = await Promise.all(
    nodes.map(async (n) => ({
      nodeId: n.index,
      address: `${n.node} 127.0.0.1:${n.amqpPort}`,
      pid: n.pid,
      status:
        (await portOpen(n.amqpPort, '127.0.0.1', 500)) && rabbitNodeAlive(n)
          ? ('up' as const)
          : ('down' as const),
    })),
  );
  const status =
    c.status === 'down' ? 'down' : nodeStatus.every((n) => n.status === 'up') ? 'up' : 'degraded';
  return { ...c, status, brokers: nodeStatus, pid: nodes[0]?.pid };
}

function withRegistryPid(c: ComponentStatus, state: StackState | undefined): ComponentStatus {
  if (c.name !== 'registry' || !state?.registry || !processAlive(state.registry.pid, REGISTRY_MARKER))
    return c;
  return { ...c, pid: state.registry.pid };
}

export function stackStateExists(config: OrderbusConfig): boolean {
  return existsSync(dataDir(config));
}

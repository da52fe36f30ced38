import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type { OrderbusConfig } from '../config.js';
import { ExitCode, OrderbusError, errorMessage } from '../errors.js';
import { kafkaClient } from '../adapters/kafka.js';
import { createPool } from '../adapters/postgres.js';
import { managementApi } from '../adapters/rabbitmq.js';
import { ensureKafkaJars, ensureRegistry, requireJavaAndMaven } from './artifacts.js';
import {
  bootstrapBrokers,
  clusterDir,
  describeCluster,
  prepareCluster,
  startKafkaNode,
  waitForCluster,
} from './kafka-cluster.js';
import { stackDir } from './paths.js';
import { setupPostgres } from './postgres-setup.js';
import { portOpen, processAlive, stopProcess } from './processes.js';
import { setupRabbitmq } from './rabbitmq-setup.js';
import {
  REGISTRY_MARKER,
  registryHealthy,
  registryPort,
  startRegistry,
  waitForRegistry,
} from './registry-process.js';
import { readState, writeState, type StackState } from './state.js';
import { ensureTopics, pipelineTopics } from './topics.js';
import { composeAvailable, composeDown, composeUp } from './compose.js';

export interface StackUpOptions {
  brokers?: number;
  log?: (line: string) => void;
  /** Force the local-process stack even when a Docker engine answers. */
  local?: boolean;
}

export interface StackUpResult {
  mode: 'local' | 'compose';
  brokers: number;
  changed: string[];
  endpoints: Record<string, string>;
  seconds: number;
}

/** Brings up every component and waits until healthy. Idempotent: a second call changes nothing. */
export async function stackUp(config: OrderbusConfig, options: StackUpOptions = {}): Promise<StackUpResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const brokers = options.brokers ?? config.stack.brokers;
  const dir = stackDir(config);
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
  const changed: string[] = [];
  const kcfg: OrderbusConfig = { ...config, kafka: { ...config.kafka, brokers: bootstrapBrokers(brokers) } };

  // Fail early and clearly on missing prerequisites, before any download.
  await requireJavaAndMaven(false);
  const pg = setupPostgres(config);
  const rabbit = setupRabbitmq(config, log);
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
  for (const spec of specs) {
    const current =
      previous?.brokers === brokers ? previous.kafka.find((n) => n.nodeId === spec.nodeId) : undefined;
    const node = await startKafkaNode(spec, libs, config.stack.kafkaHeapMb, current);
    if (node !== current) changed.push(`kafka node ${spec.nodeId} (pid ${node.pid})`);
    state.kafka.push(node);
    writeState(dir, state);
  }
  const jar = await ensureRegistry(config.stack.registryVersion, log);
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
    changed,
    endpoints: endpoints(config, kcfg.kafka.brokers),
    seconds: (Date.now() - started) / 1000,
  };
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
  const amqp = new URL(config.rabbitmq.url);
  const db = new URL(config.database.url);
  return {
    kafka: brokers.join(','),
    registry: config.registry.url,
    rabbitmq: `${amqp.protocol}//${amqp.host}`,
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
  const dir = stackDir(config);
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
  if (state) writeState(dir, { ...state, kafka: [], updatedAt: '' });
  if (options.purge) {
    for (const b of [1, 3]) rmSync(clusterDir(dir, b), { recursive: true, force: true });
    rmSync(`${dir}/registry`, { recursive: true, force: true });
    rmSync(`${dir}/stack.json`, { force: true });
  }
  return { stopped, purged: options.purge ?? false };
}

export interface ComponentStatus {
  name: 'kafka' | 'rabbitmq' | 'postgres' | 'registry';
  status: 'up' | 'down' | 'degraded';
  address: string;
  version?: string;
  pid?: number | undefined;
  detail?: string;
  controller?: number | null;
  brokers?: { nodeId: number; address: string; pid?: number | undefined; status: 'up' | 'down' }[];
}

export interface StackStatus {
  mode: 'local' | 'compose' | 'none';
  healthy: boolean;
  components: ComponentStatus[];
}

export async function stackStatus(config: OrderbusConfig): Promise<StackStatus> {
  const dir = stackDir(config);
  const state = readState(dir);
  const components = await Promise.all([
    kafkaStatus(config, state),
    rabbitStatus(config),
    postgresStatus(config),
    registryStatus(config, state),
  ]);
  return { mode: state?.mode ?? 'none', healthy: components.every((c) => c.status === 'up'), components };
}

async function kafkaStatus(config: OrderbusConfig, state: StackState | undefined): Promise<ComponentStatus> {
  const nodes = state?.kafka ?? [];
  const brokersCfg = config.kafka.brokers;
  const base: ComponentStatus = {
    name: 'kafka',
    status: 'down',
    address: brokersCfg.join(','),
    version: config.stack.kafkaVersion,
  };
  type BrokerStatus = NonNullable<ComponentStatus['brokers']>[number];
  const nodeStatus = await Promise.all(
    nodes.map(async (n): Promise<BrokerStatus> => ({
      nodeId: n.nodeId,
      address: `127.0.0.1:${n.port}`,
      pid: n.pid,
      status: (await portOpen(n.port, '127.0.0.1', 500)) && processAlive(n.pid) ? 'up' : 'down',
    })),
  );
  try {
    const h = await describeCluster(config, brokersCfg);
    const expected = nodes.length || h.brokers.length;
    const status =
      h.brokers.length >= expected && nodeStatus.every((n) => n.status === 'up') ? 'up' : 'degraded';
    const brokers =
      nodeStatus.length > 0
        ? nodeStatus
        : h.brokers.map((b) => ({ nodeId: b.nodeId, address: `${b.host}:${b.port}`, status: 'up' as const }));
    return {
      ...base,
      status,
      controller: h.controller,
      brokers,
      ...(nodes[0] ? { pid: nodes[0].pid } : {}),
      detail: `cluster ${h.clusterId}`,
    };
  } catch (e) {
    return { ...base, brokers: nodeStatus, detail: errorMessage(e) };
  }
}

async function rabbitStatus(config: OrderbusConfig): Promise<ComponentStatus> {
  const u = new URL(config.rabbitmq.url);
  const base: ComponentStatus = { name: 'rabbitmq', status: 'down', address: u.host };
  try {
    const o = await managementApi<{ rabbitmq_version: string; node: string }>(config, '/overview');
    return { ...base, status: 'up', version: o.rabbitmq_version, detail: o.node };
  } catch (e) {
    const amqpUp = await portOpen(Number(u.port || 5672), u.hostname, 500);
    return { ...base, status: amqpUp ? 'degraded' : 'down', detail: errorMessage(e) };
  }
}

async function postgresStatus(config: OrderbusConfig): Promise<ComponentStatus> {
  const u = new URL(config.database.url);
  const base: ComponentStatus = { name: 'postgres', status: 'down', address: `${u.host}${u.pathname}` };
  const pool = createPool(config, { max: 1, connectionTimeoutMillis: 2000 });
  try {
    const v = await pool.query<{ server_version: string; pid: number }>(
      'SELECT current_setting($1) AS server_version, pg_backend_pid() AS pid',
      ['server_version'],
    );
    const m = await pool
      .query<{ version: number }>('SELECT max(version) AS version FROM schema_migrations')
      .catch(() => ({ rows: [] }));
    return {
      ...base,
      status: 'up',
      version: v.rows[0]?.server_version ?? '',
      detail: `schema version ${m.rows[0]?.version ?? 'none'}`,
    };
  } catch (e) {
    return { ...base, detail: errorMessage(e) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

async function registryStatus(
  config: OrderbusConfig,
  state: StackState | undefined,
): Promise<ComponentStatus> {
  const base: ComponentStatus = { name: 'registry', status: 'down', address: config.registry.url };
  const h = await registryHealthy(config);
  const pid =
    state?.registry && processAlive(state.registry.pid, REGISTRY_MARKER) ? state.registry.pid : undefined;
  if (!h)
    return { ...base, ...(pid ? { pid } : {}), detail: `nothing healthy on port ${registryPort(config)}` };
  return {
    ...base,
    status: 'up',
    version: h.version ?? config.stack.registryVersion,
    ...(pid ? { pid } : {}),
  };
}

export function stackStateExists(config: OrderbusConfig): boolean {
  return existsSync(stackDir(config));
}

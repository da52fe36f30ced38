import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrderbusError } from '../../errors.js';
import { portOpen } from '../../net.js';
import { execFileAsync, processAlive, waitFor } from './processes.js';

/**
 * A private RabbitMQ cluster beside the machine's own node: each node has its own node name,
 * AMQP, management and distribution ports and data directory, and shares the Erlang cookie of the
 * user the packaged scripts run it as (so `rabbitmqctl -n NODE` reaches it). Nodes 2… join node 1.
 */
export interface RabbitNodeSpec {
  index: number;
  /** Erlang node name, e.g. orderbus-rabbit-1@localhost. */
  node: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  dir: string;
  /** More rabbitmq.conf lines. */
  conf?: string[];
}

export interface RabbitNodeState extends RabbitNodeSpec {
  pid: number;
}

export const RABBIT_CLUSTER_BASE_PORT = 5673;
const NODE_PLUGINS = ['rabbitmq_management', 'rabbitmq_shovel', 'rabbitmq_shovel_management'];

/** Node i (1-based): AMQP base+i-1, management +10000, distribution +20000 (5672's family stays the machine's). */
export function rabbitNodeSpecs(
  dir: string,
  nodes: number,
  { basePort = RABBIT_CLUSTER_BASE_PORT, name = 'orderbus-rabbit' } = {},
): RabbitNodeSpec[] {
  return Array.from({ length: nodes }, (_, i) => ({
    index: i + 1,
    node: `${name}-${i + 1}@localhost`,
    amqpPort: basePort + i,
    managementPort: basePort + 10_000 + i,
    distPort: basePort + 20_000 + i,
    dir: join(dir, `rabbit-${nodes}node`, `node-${i + 1}`),
  }));
}

/** The environment that starts the node, and that `rabbitmqctl` follows. */
export function rabbitNodeEnv(spec: RabbitNodeSpec): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RABBITMQ_NODENAME: spec.node,
    RABBITMQ_NODE_PORT: String(spec.amqpPort),
    RABBITMQ_DIST_PORT: String(spec.distPort),
    RABBITMQ_MNESIA_BASE: join(spec.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(spec.dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(spec.dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(spec.dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(spec.dir, 'advanced.config'),
    RABBITMQ_PID_FILE: join(spec.dir, 'pid'),
  };
}

export function rabbitctl(spec: RabbitNodeSpec, args: string[], timeoutMs = 60_000) {
  return execFileAsync('rabbitmqctl', ['-n', spec.node, ...args], {
    env: rabbitNodeEnv(spec),
    timeout: timeoutMs,
  });
}

function writeNodeFiles(spec: RabbitNodeSpec): void {
  for (const d of ['mnesia', 'log']) mkdirSync(join(spec.dir, d), { recursive: true });
  writeFileSync(join(spec.dir, 'enabled_plugins'), `[${NODE_PLUGINS.join(',')}].\n`);
  const conf = [
    `listeners.tcp.default = 127.0.0.1:${spec.amqpPort}`,
    `management.tcp.port = ${spec.managementPort}`,
    'management.tcp.ip = 127.0.0.1',
    // guest may log in over loopback only, which is all this cluster listens on.
    ...(spec.conf ?? []),
    '',
  ];
  writeFileSync(join(spec.dir, 'rabbitmq.conf'), conf.join('\n'));
  if (!existsSync(join(spec.dir, 'advanced.config')))
    writeFileSync(join(spec.dir, 'advanced.config'), '[].\n');
}

/** The packaged scripts run the node as the rabbitmq user when started by root: it must own its files. */
async function chownToRabbit(spec: RabbitNodeSpec): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const uid = Number((await execFileAsync('id', ['-u', 'rabbitmq'])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', 'rabbitmq'])).stdout.trim());
  const files = ['..', '', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf', 'advanced.config'];
  for (const f of files) chownSync(join(spec.dir, f), uid, gid);
  await execFileAsync('chown', ['-R', `${uid}:${gid}`, join(spec.dir, 'mnesia'), join(spec.dir, 'log')]);
}

/**
 * The node's Erlang VM is alive. Its command line does not name the node (3.10 passes the name by
 * environment), so the PID comes from the node's own pid file and is checked to be a VM.
 */
export function rabbitNodeAlive(n: { pid: number }): boolean {
  return processAlive(n.pid, 'beam.smp');
}

function pidOf(spec: RabbitNodeSpec): number | undefined {
  try {
    const pid = Number(readFileSync(join(spec.dir, 'pid'), 'utf8').trim());
    return rabbitNodeAlive({ pid }) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts one node (its data kept from a previous run) and waits until it booted. */
export async function startRabbitNode(spec: RabbitNodeSpec, timeoutMs = 120_000): Promise<RabbitNodeState> {
  const running = pidOf(spec);
  if (running && (await portOpen(spec.amqpPort, '127.0.0.1', 500))) return { ...spec, pid: running };
  if (await portOpen(spec.amqpPort, '127.0.0.1', 500))
    throw new OrderbusError('PORT_IN_USE', `port ${spec.amqpPort} for RabbitMQ node ${spec.node} is taken`, {
      hint: `ss -ltnp 'sport = :${spec.amqpPort}'`,
    });
  writeNodeFiles(spec);
  await chownToRabbit(spec);
  await execFileAsync('rabbitmq-server', ['-detached'], { env: rabbitNodeEnv(spec), cwd: spec.dir });
  // await_startup fails at once while the new node has not registered with epmd yet: retried.
  await waitFor('rabbitmq node', () => rabbitctl(spec, ['await_startup', '--timeout', '30'], 40_000), {
    timeoutMs,
    intervalMs: 500,
    onTimeout: () =>
      new OrderbusError('RABBITMQ_START_TIMEOUT', `RabbitMQ node ${spec.node} did not boot`, {
        hint: `less ${join(spec.dir, 'log')}/*.log`,
      }),
  });
  const pid = await waitFor('rabbitmq pid file', async () => pidOf(spec), {
    timeoutMs: 10_000,
    onTimeout: () =>
      new OrderbusError('RABBITMQ_START_TIMEOUT', `RabbitMQ node ${spec.node} wrote no pid file`, {
        hint: `rabbitmqctl -n ${spec.node} status`,
      }),
  });
  return { ...spec, pid };
}

/** The nodes node `spec` sees running in its cluster. */
export async function runningNodes(spec: RabbitNodeSpec): Promise<string[]> {
  const { stdout } = await rabbitctl(spec, ['cluster_status', '--formatter', 'json'], 30_000);
  return (JSON.parse(stdout) as { running_nodes?: string[] }).running_nodes ?? [];
}

/**
 * Starts every node, joins nodes 2… to node 1 (stop_app, join_cluster, start_app), and waits
 * until node 1 sees them all running. Nodes already clustered are left as they are.
 */
export async function startRabbitCluster(
  specs: RabbitNodeSpec[],
  log: (s: string) => void = () => undefined,
): Promise<RabbitNodeState[]> {
  const [first, ...rest] = specs;
  if (!first) return [];
  log(`starting RabbitMQ nodes ${specs.map((s) => s.node).join(', ')}`);
  const started = await Promise.all(specs.map((s) => startRabbitNode(s)));
  const members = await runningNodes(first);
  for (const spec of rest) {
    if (members.includes(spec.node)) continue;
    log(`joining ${spec.node} to ${first.node}`);
    await rabbitctl(spec, ['stop_app']);
    await rabbitctl(spec, ['join_cluster', first.node]);
    await rabbitctl(spec, ['start_app'], 120_000);
  }
  await waitFor(
    'rabbitmq cluster',
    async () => (await runningNodes(first)).length >= specs.length || undefined,
    {
      timeoutMs: 60_000,
      intervalMs: 500,
      onTimeout: () =>
        new OrderbusError(
          'RABBITMQ_CLUSTER_INCOMPLETE',
          `${first.node} does not see all ${specs.length} nodes`,
          {
            hint: `rabbitmqctl -n ${first.node} cluster_status`,
          },
        ),
    },
  );
  // Pids again: a node joined by stop_app/start_app keeps its VM, but read what is true now.
  return started.map((n) => ({ ...n, pid: pidOf(n) ?? n.pid }));
}

/** Stops the nodes cleanly (`rabbitmqctl stop`), the last started first; returns what it stopped. */
export async function stopRabbitCluster(nodes: RabbitNodeState[]): Promise<string[]> {
  const stopped: string[] = [];
  for (const n of [...nodes].reverse()) {
    if (!rabbitNodeAlive(n)) continue;
    await rabbitctl(n, ['stop'], 60_000).catch(() => process.kill(n.pid, 'SIGKILL'));
    stopped.push(`rabbitmq node ${n.node} (pid ${n.pid})`);
  }
  return stopped;
}

/** The client settings that reach the cluster: node 1 first, the others to fail over to. */
export function rabbitClusterConfig(nodes: RabbitNodeSpec[]) {
  const amqp = nodes.map((n) => `amqp://guest:guest@127.0.0.1:${n.amqpPort}`);
  const mgmt = nodes.map((n) => `http://guest:guest@127.0.0.1:${n.managementPort}`);
  return {
    url: amqp[0] ?? '',
    managementUrl: mgmt[0] ?? '',
    failoverUrls: amqp.slice(1),
    managementFailoverUrls: mgmt.slice(1),
    queueType: 'quorum' as const,
  };
}

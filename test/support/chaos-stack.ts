import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { processAlive } from '../../src/devstack/stack/processes.js';
import { readState, writeState } from '../../src/devstack/stack/state.js';
import { startPrivateKafka, type PrivateKafka } from './private-kafka.js';

const run = promisify(execFile);

/**
 * Throwaway brokers for the drills that stop or kill one, so the shared stack other tests use is
 * never disturbed. Each gives the environment that points `orderbus chaos run` at it.
 */
export interface DrillKafka {
  kafka: PrivateKafka;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A private Kafka cluster with a stack state file, so the CLI's stack faults can signal and restart it. */
export async function startDrillKafka(brokers: 1 | 3, basePort: number): Promise<DrillKafka> {
  const kafka = await startPrivateKafka(brokers, basePort);
  const first = kafka.nodes[0];
  if (!first) throw new Error('private Kafka started no node');
  // <dir>/kafka-<n>node/node-<id>/server.properties
  const dir = dirname(dirname(dirname(first.configFile)));
  writeState(dir, { mode: 'local', brokers, kafka: kafka.nodes, updatedAt: new Date().toISOString() });
  return {
    kafka,
    env: {
      ORDERBUS_STACK_DIR: dir,
      ORDERBUS_KAFKA_BROKERS: kafka.brokers.join(','),
      ORDERBUS_TOPIC_REPLICATION_FACTOR: String(brokers >= 3 ? 3 : 1),
    },
    async stop() {
      // The drill restarts nodes: stop what the state file says runs now, then the rest.
      for (const n of readState(dir)?.kafka ?? [])
        if (processAlive(n.pid, n.configFile)) process.kill(n.pid, 'SIGKILL');
      await kafka.stop();
    },
  };
}

export interface DrillRabbit {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A second RabbitMQ node on its own ports and data directory (rabbitmqctl follows RABBITMQ_NODENAME).
 * `settings`: more rabbitmq.conf lines, and an advanced.config for what it cannot say.
 */
export async function startDrillRabbit(
  amqpPort: number,
  settings: { conf?: string[]; advanced?: string } = {},
): Promise<DrillRabbit> {
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-rabbit-'));
  const mgmtPort = amqpPort + 10_000;
  const node = `orderbus-drill-${process.pid}@localhost`;
  mkdirSync(join(dir, 'mnesia'));
  mkdirSync(join(dir, 'log'));
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_management].\n');
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `management.tcp.port = ${mgmtPort}`,
      'management.tcp.ip = 127.0.0.1',
      ...(settings.conf ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'advanced.config'), settings.advanced ?? '[].\n');
  // The packaged scripts run the node as the rabbitmq user when started by root.
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'rabbitmq']);
    const { stdout: gid } = await run('id', ['-g', 'rabbitmq']);
    for (const p of ['', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf', 'advanced.config'])
      chownSync(join(dir, p), Number(stdout.trim()), Number(gid.trim()));
  }
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(amqpPort + 20_000),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const stop = async () => {
    await run('rabbitmqctl', ['stop'], { env, timeout: 60_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  await run('rabbitmq-server', ['-detached'], { env, cwd: dir });
  // await_startup fails at once while the new node has not registered with epmd yet: retry.
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await run('rabbitmqctl', ['await_startup', '--timeout', '60'], { env, timeout: 70_000 });
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw e;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return {
    env: {
      RABBITMQ_NODENAME: node,
      ORDERBUS_RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
      ORDERBUS_RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${mgmtPort}`,
    },
    stop,
  };
}

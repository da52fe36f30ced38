import { dirname } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { connectRabbit } from '../../adapters/rabbitmq.js';
import { ensureKafkaJars } from '../stack/artifacts.js';
import { composeService } from '../stack/compose.js';
import { kafkaNodeSpecs, startKafkaNode, waitForCluster } from '../stack/kafka-cluster.js';
import { dataDir } from '../../paths.js';
import { portOpen } from '../../net.js';
import { execFileAsync, processAlive, waitFor } from '../stack/processes.js';
import { readState, writeState, type StackState } from '../stack/state.js';

/**
 * Faults on the stack's own processes: signals on what `stack up` started (local) or
 * `docker compose kill|stop|pause|unpause` (compose). Faults target loopback only.
 */
function requireState(config: OrderbusConfig): StackState {
  const state = readState(dataDir(config));
  if (!state) {
    throw new OrderbusError('STACK_NOT_STARTED', 'no stack started by orderbus was found', {
      hint: 'orderbus stack up',
    });
  }
  return state;
}

export function kafkaNodeIds(config: OrderbusConfig): number[] {
  return requireState(config).kafka.map((n) => n.nodeId);
}

export async function signalKafkaNode(
  config: OrderbusConfig,
  nodeId: number,
  signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM',
): Promise<void> {
  const state = requireState(config);
  if (state.mode === 'compose') {
    const action =
      signal === 'SIGSTOP'
        ? 'pause'
        : signal === 'SIGCONT'
          ? 'unpause'
          : signal === 'SIGTERM'
            ? 'stop'
            : 'kill';
    await composeService(action, 'kafka');
    return;
  }
  const node = state.kafka.find((n) => n.nodeId === nodeId);
  if (!node || !processAlive(node.pid, node.configFile)) {
    throw new OrderbusError('KAFKA_NODE_NOT_RUNNING', `Kafka node ${nodeId} is not running`, {
      hint: 'orderbus stack status',
    });
  }
  process.kill(node.pid, signal);
}

/** Starts a stopped/killed node again with its data, and waits until the whole cluster is healthy. */
export async function restartKafkaNode(
  config: OrderbusConfig,
  nodeId: number,
  timeoutMs = 120_000,
): Promise<void> {
  const state = requireState(config);
  if (state.mode === 'compose') {
    await composeService('start', 'kafka');
    return;
  }
  const dir = dataDir(config);
  const current = state.kafka.find((n) => n.nodeId === nodeId);
  // The spec comes from what the node was started with, so a cluster on other ports restarts too.
  const spec = current
    ? { nodeId, port: current.port, controllerPort: current.controllerPort, dir: dirname(current.configFile) }
    : kafkaNodeSpecs(dir, state.brokers).find((s) => s.nodeId === nodeId);
  if (!spec || !current)
    throw new OrderbusError('KAFKA_NODE_UNKNOWN', `no Kafka node ${nodeId} in this stack`, {
      hint: 'orderbus stack status',
    });
  await waitFor(
    'old node gone',
    async () => !processAlive(current.pid, current.configFile) && !(await portOpen(current.port)),
    {
      timeoutMs: 30_000,
      onTimeout: () =>
        new OrderbusError('KAFKA_NODE_STUCK', `Kafka node ${nodeId} did not exit`, {
          hint: `kill -9 ${current.pid}`,
        }),
    },
  );
  const libs = await ensureKafkaJars(config.stack.kafkaVersion, () => undefined);
  const started = await startKafkaNode(spec, libs, config.stack.kafkaHeapMb, current);
  const next: StackState = { ...state, kafka: state.kafka.map((n) => (n.nodeId === nodeId ? started : n)) };
  writeState(dir, next);
  await waitForCluster(config, next.kafka, timeoutMs);
}

/** Stops the RabbitMQ application (connections drop; durable queues and persistent messages stay). */
export async function stopRabbitmq(config: OrderbusConfig): Promise<void> {
  const state = readState(dataDir(config));
  if (state?.mode === 'compose') await composeService('stop', 'rabbitmq');
  else await execFileAsync('rabbitmqctl', ['stop_app'], { timeout: 60_000 });
}

/** Starts the RabbitMQ application again and waits until it takes connections. */
export async function startRabbitmq(config: OrderbusConfig): Promise<void> {
  const state = readState(dataDir(config));
  if (state?.mode === 'compose') await composeService('start', 'rabbitmq');
  else await execFileAsync('rabbitmqctl', ['start_app'], { timeout: 120_000 });
  await waitFor(
    'rabbitmq back',
    async () => {
      const c = await connectRabbit(config, 'orderbus-chaos-probe');
      await c.close();
      return true;
    },
    {
      timeoutMs: 120_000,
      intervalMs: 500,
      onTimeout: () =>
        new OrderbusError('RABBITMQ_NOT_BACK', 'RabbitMQ did not come back within 120 s', {
          hint: 'rabbitmqctl start_app',
        }),
    },
  );
}

/** Restarts the RabbitMQ application (connections drop, durable queues and messages survive). */
export async function restartRabbitmq(config: OrderbusConfig, downMs = 3000): Promise<void> {
  await stopRabbitmq(config);
  await new Promise((r) => setTimeout(r, downMs));
  await startRabbitmq(config);
}

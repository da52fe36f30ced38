import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';
import {
  prepareCluster,
  startKafkaNode,
  waitForCluster,
  type KafkaNodeSpec,
} from '../../src/devstack/stack/kafka-cluster.js';
import { portOpen } from '../../src/net.js';
import { processAlive, startedOrStopped, stopProcess } from '../../src/devstack/stack/processes.js';
import { waitUntil } from './wait.js';
import type { KafkaNodeState } from '../../src/devstack/stack/state.js';

/**
 * A throwaway Kafka cluster on its own ports and data directory, started with the same launcher
 * code as `orderbus stack up`. Tests that kill or restart brokers use it so they never disturb
 * the shared stack other tests run against.
 */
export interface PrivateKafka {
  brokers: string[];
  /** The data directory (removed by stop()). */
  dir: string;
  config: OrderbusConfig;
  nodes: KafkaNodeState[];
  kill(nodeId: number, signal?: NodeJS.Signals): void;
  start(nodeId: number): Promise<void>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** `version`: the Kafka release to run (default: the stack's); the config's tools follow it. */
export async function startPrivateKafka(
  brokers: 1 | 3,
  basePort: number,
  version = loadConfig().stack.kafkaVersion,
): Promise<PrivateKafka> {
  const base = loadConfig();
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-kafka-'));
  const libs = await ensureKafkaJars(version, () => undefined);
  const { specs } = await prepareCluster(dir, brokers, libs, basePort);
  const byId = new Map<number, KafkaNodeSpec>(specs.map((s) => [s.nodeId, s]));
  const nodes: KafkaNodeState[] = [];
  for (const spec of specs) nodes.push(await startKafkaNode(spec, libs, 512));
  const brokerList = specs.map((s) => `127.0.0.1:${s.port}`);
  const config: OrderbusConfig = {
    ...base,
    kafka: { ...base.kafka, brokers: brokerList },
    stack: { ...base.stack, kafkaVersion: version },
    topics: { ...base.topics, replicationFactor: brokers >= 3 ? 3 : 1 },
  };
  const handle: PrivateKafka = {
    brokers: brokerList,
    dir,
    config,
    nodes,
    kill(nodeId, signal = 'SIGKILL') {
      const n = nodes.find((x) => x.nodeId === nodeId);
      if (n && processAlive(n.pid)) process.kill(n.pid, signal);
    },
    async start(nodeId) {
      const spec = byId.get(nodeId);
      if (!spec) throw new Error(`no node ${nodeId}`);
      const i = nodes.findIndex((x) => x.nodeId === nodeId);
      const old = nodes[i];
      // A killed JVM takes a moment to release its ports.
      if (old)
        await waitUntil(
          `node ${nodeId} exited`,
          async () => !processAlive(old.pid) && !(await portOpen(old.port)),
          { timeoutMs: 30_000 },
        );
      const started = await startKafkaNode(spec, libs, 512, nodes[i]);
      nodes[i] = started;
    },
    async waitHealthy(timeoutMs = 90_000) {
      await waitForCluster(config, nodes, timeoutMs);
    },
    async stop() {
      await Promise.all(
        nodes.map((n) => (processAlive(n.pid) ? stopProcess(n.pid, 15000) : Promise.resolve())),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return startedOrStopped(handle, (h) => h.waitHealthy());
}

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  rabbitctl,
  rabbitNodeAlive,
  rabbitClusterConfig,
  rabbitNodeSpecs,
  startRabbitCluster,
  stopRabbitCluster,
  type RabbitNodeState,
} from '../../src/devstack/stack/rabbit-cluster.js';
import { readState, writeState } from '../../src/devstack/stack/state.js';

export interface DrillRabbitCluster {
  nodes: RabbitNodeState[];
  /** Points `orderbus` (and the drill's services) at the cluster, its stack state and quorum queues. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A private 3-node RabbitMQ cluster (or, `size` 1, one private node with classic queues: a
 * reference as idle as the cluster) (own node names, ports and data directory) with a stack state
 * file, so the rabbitmq-node-kill drill can find, kill and restart its nodes. Kafka, PostgreSQL
 * and the registry stay the shared stack's.
 */
export async function startDrillRabbitCluster(
  basePort: number,
  size: 1 | 3 = 3,
): Promise<DrillRabbitCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-rabbit-cluster-'));
  // The nodes run as the rabbitmq user (the packaged scripts switch when started by root).
  chmodSync(dir, 0o755);
  const specs = rabbitNodeSpecs(dir, size, { basePort, name: `orderbus-drill-${process.pid}` });
  const stop = async () => {
    // The drill restarts a node: stop what the state file says runs now, then the rest.
    await stopRabbitCluster(readState(dir)?.rabbit ?? []);
    for (const n of nodes) if (rabbitNodeAlive(n)) process.kill(n.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  let nodes: RabbitNodeState[] = specs.map((s) => ({ ...s, pid: 0 }));
  try {
    nodes = await startRabbitCluster(specs);
  } catch (e) {
    for (const s of specs) await rabbitctl(s, ['stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  writeState(dir, { mode: 'local', brokers: 1, kafka: [], rabbit: nodes, updatedAt: '' });
  const c = rabbitClusterConfig(nodes);
  return {
    nodes,
    env: {
      ORDERBUS_STACK_DIR: dir,
      ORDERBUS_RABBITMQ_URL: c.url,
      ORDERBUS_RABBITMQ_MANAGEMENT_URL: c.managementUrl,
      ORDERBUS_RABBITMQ_FAILOVER_URLS: c.failoverUrls.join(','),
      ORDERBUS_RABBITMQ_MANAGEMENT_FAILOVER_URLS: c.managementFailoverUrls.join(','),
      ORDERBUS_RABBITMQ_QUEUE_TYPE: size > 1 ? 'quorum' : 'classic',
    },
    stop,
  };
}

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rabbitClusterConfig, type RabbitNodeState } from './rabbit-cluster.js';

/** What `stack up` started, so `down` stops only that. Written atomically. */
export interface KafkaNodeState {
  nodeId: number;
  pid: number;
  port: number;
  controllerPort: number;
  configFile: string;
  logFile: string;
}

export interface StackState {
  mode: 'local' | 'compose';
  brokers: number;
  clusterId?: string;
  kafka: KafkaNodeState[];
  registry?: { pid: number; port: number; logFile: string };
  startedRabbitmq?: boolean;
  /** The private RabbitMQ cluster of `stack up --rabbit-nodes 3` (the machine's node otherwise). */
  rabbit?: RabbitNodeState[];
  updatedAt: string;
}

export function stateFile(dir: string): string {
  return join(dir, 'stack.json');
}

export function readState(dir: string): StackState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

export function writeState(dir: string, state: StackState): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${stateFile(dir)}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2));
  renameSync(tmp, stateFile(dir));
  writeLocalStackConfig(dir, state);
}

/**
 * The config layer other commands read (src/config.ts): a multi-broker local stack's bootstrap
 * list and replication factor, a RabbitMQ cluster's nodes and queue type. Removed when the stack
 * has no such values.
 */
export function localStackLayer(state: StackState): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  if (state.mode === 'local' && state.kafka.length > 1)
    layer.kafka = { brokers: state.kafka.map((n) => `127.0.0.1:${n.port}`) };
  if (state.brokers >= 3) layer.topics = { replicationFactor: 3 };
  if (state.mode === 'local' && (state.rabbit?.length ?? 0) > 0)
    layer.rabbitmq = rabbitClusterConfig(state.rabbit ?? []);
  return layer;
}

function writeLocalStackConfig(dir: string, state: StackState): void {
  const file = join(dir, 'local-stack.config.json');
  const layer = localStackLayer(state);
  if (Object.keys(layer).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  writeFileSync(`${file}.tmp`, JSON.stringify(layer, null, 2));
  renameSync(`${file}.tmp`, file);
}

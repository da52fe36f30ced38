import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type kafkajs from 'kafkajs';
import {
  connectAdmin,
  createTopicsAndWait,
  idempotentProducer,
  kafkaClient,
} from '../../../src/adapters/kafka.js';
import { sampleOrder } from '../../../src/devstack/load/load.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { waitUntil } from '../../support/wait.js';
import { machineCpu } from './cpu.js';
import { atRate, sleep } from './pacing.js';
import { assertAlive, crashReason, spawnSupervised, stopChild } from './processes.js';
import { ramp, stepResult, type RampResult, type StepResult } from './ramp.js';
import { E2E_GRACE_MS, E2E_STEP_MS } from './settings.js';

/**
 * The e2e reference: the same four hops as bare kafkajs stages, one process each
 * (kafka-chain.ts), fed by a producer in this process at the same rate ramp.
 */

const CHAIN_STAGES = ['payment', 'inventory', 'shipping', 'saga'];

interface Chain {
  topic: string;
  stages: ChildProcess[];
  /** Order id → when the last stage reported it (ms since epoch) and its latency. */
  done: Map<string, { at: number; ms: number }>;
  placed: number;
}

async function startChain(p: TestPipeline, topic: string): Promise<Chain> {
  const admin = await connectAdmin(p.config);
  try {
    await createTopicsAndWait(admin, [
      { topic, numPartitions: 12, replicationFactor: p.config.topics.replicationFactor },
    ]);
  } finally {
    await admin.disconnect();
  }
  const chain: Chain = { topic, stages: [], done: new Map(), placed: 0 };
  const script = fileURLToPath(new URL('../kafka-chain.js', import.meta.url));
  await Promise.all(
    CHAIN_STAGES.map(
      (stage) =>
        new Promise<void>((resolve, reject) => {
          const child = spawnSupervised([script, stage, topic, topic], {
            label: `chain-${stage}`,
            env: { ...process.env, ...p.env },
            stdout: 'pipe',
          });
          chain.stages.push(child);
          const t = setTimeout(() => reject(new Error(`chain stage ${stage} not ready after 60 s`)), 60_000);
          child.once('exit', () => reject(new Error(crashReason() ?? `chain-${stage} stopped`)));
          let buf = '';
          child.stdout?.on('data', (d: Buffer) => {
            const lines = (buf + d.toString()).split('\n');
            buf = lines.pop() ?? '';
            for (const line of lines) {
              if (line === 'ready') {
                clearTimeout(t);
                resolve();
                continue;
              }
              const [id, ms] = line.split(' ');
              if (id) chain.done.set(id, { at: Date.now(), ms: Number(ms) });
            }
          });
        }),
    ),
  );
  return chain;
}

async function chainStep(
  chain: Chain,
  producer: kafkajs.Producer,
  rate: number,
  idle: number,
): Promise<StepResult> {
  const ids: string[] = [];
  const machine0 = machineCpu();
  const t0 = Date.now();
  await atRate(rate, E2E_STEP_MS, (n) => {
    const messages: kafkajs.Message[] = [];
    for (let i = 0; i < n; i++) {
      const orderId = randomUUID();
      ids.push(orderId);
      const order = sampleOrder('normal', ids.length);
      messages.push({
        key: orderId,
        value: JSON.stringify({ orderId, placedAt: Date.now(), order }),
        headers: { type: 'order.placed' },
      });
    }
    return producer.send({ topic: chain.topic, acks: -1, messages });
  });
  chain.placed += ids.length;
  const tEnd = Date.now();
  await sleep(E2E_GRACE_MS);
  const machine2 = machineCpu();
  assertAlive();
  const latencies: number[] = [];
  let completed = 0;
  for (const id of ids) {
    const d = chain.done.get(id);
    if (!d) continue;
    latencies.push(d.ms);
    if (d.at >= t0 + 3000 && d.at < tEnd) completed++;
  }
  return stepResult({
    rate,
    placed: ids.length,
    errors: 0,
    latencies,
    completed,
    t0,
    tEnd,
    machine0,
    machine2,
    idle,
  });
}

/**
 * Runs the ramp through a fresh chain on its own topic (`topic`), waits until it drained, then
 * stops it and deletes the topic.
 */
export async function chainRamp(p: TestPipeline, topic: string): Promise<RampResult> {
  const c = await startChain(p, topic);
  // A producer per run: kafkajs keeps refreshing every topic a producer sent to, and the
  // previous run's topic is deleted.
  const producer = idempotentProducer(kafkaClient(p.config, `${c.topic}-load`));
  await producer.connect();
  try {
    const ref = await ramp('reference', (rate, idle) => chainStep(c, producer, rate, idle));
    await waitDrained(c);
    return ref;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await Promise.all(c.stages.map(stopChild));
    const admin = await connectAdmin(p.config);
    await admin.deleteTopics({ topics: [c.topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function waitDrained(c: Chain): Promise<void> {
  await waitUntil(
    'the reference backlog to drain',
    () => crashReason() !== undefined || c.done.size >= c.placed,
    {
      timeoutMs: 180_000,
      intervalMs: 1000,
    },
  );
  assertAlive();
}

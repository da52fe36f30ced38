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
import { atRate } from './pacing.js';
import { assertAlive, crashReason, spawnSupervised, stopChild } from './processes.js';
import { E2E_SECONDS } from './settings.js';
import { measureIdle, sustainedResult, type SustainedResult } from './sustained.js';

/**
 * The e2e reference: the same four hops as bare kafkajs stages, one process each
 * (kafka-chain.ts), fed by a producer in this process at the same rate.
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

/**
 * Offers `rate` orders/s to the chain for E2E_SECONDS, waits until it drained, and reads the
 * run as the pipeline's (sustained.ts).
 */
async function chainRun(
  chain: Chain,
  producer: kafkajs.Producer,
  rate: number,
  idle: number,
): Promise<SustainedResult> {
  const placedAt = new Map<string, number>();
  const machine0 = machineCpu();
  const t0 = Date.now();
  await atRate(rate, E2E_SECONDS * 1000, (n) => {
    const messages: kafkajs.Message[] = [];
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const orderId = randomUUID();
      placedAt.set(orderId, now);
      const order = sampleOrder('normal', placedAt.size);
      messages.push({
        key: orderId,
        value: JSON.stringify({ orderId, placedAt: now, order }),
        headers: { type: 'order.placed' },
      });
    }
    return producer.send({ topic: chain.topic, acks: -1, messages });
  });
  chain.placed += placedAt.size;
  const tEnd = Date.now();
  const machine1 = machineCpu();
  assertAlive();
  await waitDrained(chain);
  return sustainedResult({
    label: 'reference',
    rate,
    seconds: E2E_SECONDS,
    errors: 0,
    orders: [...placedAt].map(([id, placed]) => {
      const d = chain.done.get(id);
      return { placed, done: d?.at, ms: d?.ms };
    }),
    t0,
    tEnd,
    machine0,
    machine1,
    idle,
  });
}

/**
 * Runs the chain at `rate` on its own topic (`topic`), then stops it and deletes the topic.
 */
export async function chainSustained(p: TestPipeline, topic: string, rate: number): Promise<SustainedResult> {
  const c = await startChain(p, topic);
  // A producer per run: kafkajs keeps refreshing every topic a producer sent to, and the
  // previous run's topic is deleted.
  const producer = idempotentProducer(kafkaClient(p.config, `${c.topic}-load`));
  await producer.connect();
  try {
    const idle = await measureIdle('reference');
    return await chainRun(c, producer, rate, idle);
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
      timeoutMs: 600_000,
      intervalMs: 1000,
    },
  );
  assertAlive();
}

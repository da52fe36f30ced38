import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  connectAdmin,
  createTopicsAndWait,
  idempotentProducer,
  kafkaClient,
} from '../../src/adapters/kafka.js';
import type { OrderbusConfig } from '../../src/config.js';
import { dataDir } from '../../src/paths.js';
import { readState } from '../../src/devstack/stack/state.js';
import { processCpuSeconds } from './harness.js';

const execFileAsync = promisify(execFile);

/** Seconds of JIT compilation the JVM `pid` has done so far (`jstat -compiler`), or undefined. */
async function jitSeconds(pid: number): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync('jstat', ['-compiler', String(pid)], { timeout: 10_000 });
    const time = Number(stdout.trim().split('\n')[1]?.trim().split(/\s+/)[3]);
    return Number.isFinite(time) ? time : undefined;
  } catch {
    return undefined;
  }
}

export interface WarmUp {
  seconds: number;
  /** JIT seconds per broker before and after. */
  jit: { pid: number; before: number | undefined; after: number | undefined }[];
  skipped?: string;
}

/**
 * A freshly started Kafka broker compiles its hot paths for minutes once load arrives (C2 took ~half
 * a core; 49 s of the broker's first 107 s of CPU under the e2e load), and the first benchmark after
 * `stack up` read several times worse than the same one later (the bare chain's p50 at 100/s
 * 3,254 ms vs 27–63 ms). So before the benchmarks the brokers get a produce / fetch / commit load
 * until their JIT goes quiet: less than `quietJitShare` of a core compiling over `windowMs`, at
 * least `minMs`, at most `maxMs`. A warm broker goes quiet in the first window. Without `jstat`
 * (a JRE only) it runs `minMs`.
 */
export async function warmUpBrokers(
  config: OrderbusConfig,
  log: (line: string) => void,
  options: { minMs?: number; maxMs?: number; windowMs?: number; quietJitShare?: number } = {},
): Promise<WarmUp> {
  const minMs = options.minMs ?? 10_000;
  const maxMs = options.maxMs ?? 150_000;
  const windowMs = options.windowMs ?? 5000;
  const quiet = options.quietJitShare ?? 0.05;
  const pids = (readState(dataDir(config))?.kafka ?? []).map((k) => k.pid);
  if (pids.length === 0) return { seconds: 0, jit: [], skipped: 'no broker started by orderbus stack up' };
  const before = await Promise.all(pids.map(jitSeconds));
  const topic = `${config.kafka.groupPrefix}bench-warmup`;
  const admin = await connectAdmin(config);
  const kafka = kafkaClient(config, `${config.kafka.clientId}-bench-warmup`);
  const producer = idempotentProducer(kafka);
  const consumer = kafka.consumer({ groupId: topic });
  const started = Date.now();
  let stop = false;
  try {
    // Waits until every partition answers (kafkajs' waitForLeaders failed on a topic of this name
    // deleted by the previous run moments before: UNKNOWN_TOPIC_OR_PARTITION).
    await createTopicsAndWait(admin, [
      { topic, numPartitions: 12, replicationFactor: Math.min(3, pids.length) },
    ]);
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ partitionsConsumedConcurrently: 3, eachBatch: async () => undefined });
    const value = Buffer.alloc(300, 'x');
    const sending = Array.from({ length: 4 }, async (_, lane) => {
      for (let n = 0; !stop; n++)
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: 50 }, (_, i) => ({ key: `${lane}-${n}-${i}`, value })),
        });
    });
    let last = await Promise.all(pids.map(jitSeconds));
    let lastCpu = pids.map(processCpuSeconds);
    for (;;) {
      await new Promise((r) => setTimeout(r, windowMs));
      const now = await Promise.all(pids.map(jitSeconds));
      const cpu = pids.map(processCpuSeconds);
      const compiling = Math.max(
        ...now.map((t, i) =>
          t !== undefined && last[i] !== undefined ? (t - (last[i] ?? 0)) / (windowMs / 1000) : 1,
        ),
      );
      const busy = Math.max(...cpu.map((c, i) => (c - (lastCpu[i] ?? 0)) / (windowMs / 1000)));
      const elapsed = Date.now() - started;
      log(
        `  warm-up ${(elapsed / 1000).toFixed(0)} s: broker JIT ${(compiling * 100).toFixed(0)} % of a core, broker CPU ${(busy * 100).toFixed(0)} %`,
      );
      last = now;
      lastCpu = cpu;
      const jitKnown = now.every((t) => t !== undefined);
      if (elapsed >= maxMs) break;
      if (elapsed >= minMs && (!jitKnown || compiling < quiet)) break;
    }
    stop = true;
    await Promise.all(sending);
  } finally {
    stop = true;
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteGroups([topic]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return {
    seconds: (Date.now() - started) / 1000,
    jit: await Promise.all(
      pids.map(async (pid, i) => ({ pid, before: before[i], after: await jitSeconds(pid) })),
    ),
  };
}

import { parentPort, workerData } from 'node:worker_threads';
import type { OrderbusConfig } from '../config.js';
import { OpsContext } from './context.js';
import { copyPartitions, type CopyJob } from './replay.js';

/**
 * The worker-thread half of a large `replay --to-topic` (see copyInWorker in replay.ts): copies its
 * share of the partitions with clients of its own and reports each chunk the broker acknowledged.
 */
const { config, job } = workerData as { config: OrderbusConfig; job: CopyJob };
const ctx = new OpsContext(config);
try {
  await copyPartitions(ctx, job, (n) => parentPort?.postMessage({ copied: n }));
} catch (e) {
  parentPort?.postMessage({
    error: { code: (e as { code?: string }).code, message: e instanceof Error ? e.message : String(e) },
  });
} finally {
  await ctx.close().catch(() => undefined);
  parentPort?.postMessage({ done: true });
}

import { Worker } from 'node:worker_threads';
import { createTopicsAndWait, partitionForKey } from '../adapters/kafka.js';
import {
  approxRecordBytes,
  BatchProducer,
  type HeaderValue,
  type OutRecord,
} from '../adapters/kafka-produce.js';
import type { OrderbusConfig } from '../config.js';
import { ReplayHeaders } from '../events/types.js';
import { ExitCode, OrderbusError, usageError } from '../errors.js';
import { withAudit } from './audit.js';
import type { OpsContext } from './context.js';
import { assertTopicExists } from './lag.js';
import { resetOffsets, type ResetResult } from './offsets.js';

/**
 * `orderbus replay`: a range of a topic, either copied into another topic (keys, headers and
 * partitions preserved, plus replay headers; the safe way to investigate) or replayed to a
 * consumer group by rewinding it (with the reset's safety: dry run, exit 3 on an active group).
 */
export type RangeBound = { offset: number } | { time: Date };

export interface ReplayRequest {
  topic: string;
  from: RangeBound;
  partition?: number;
  until?: RangeBound;
  toTopic?: string;
  group?: string;
  execute?: boolean;
  waitEmpty?: boolean;
  command?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayPartitionPlan {
  partition: number;
  from: number;
  until: number;
  records: number;
  fromTime: string | null;
  untilTime: string | null;
}

export interface ReplayResult {
  topic: string;
  target: { topic: string } | { group: string };
  execute: boolean;
  records: number;
  partitions: ReplayPartitionPlan[];
  copied: number;
  createdTopic: boolean;
  reset: ResetResult | null;
  auditRef: string | null;
  seconds: number;
}

async function boundOffsets(
  ctx: OpsContext,
  topic: string,
  b: RangeBound,
  marks: Map<number, { low: number; high: number }>,
): Promise<Map<number, number>> {
  if ('offset' in b) return new Map([...marks.keys()].map((p) => [p, b.offset]));
  const admin = await ctx.admin();
  const r = await admin.fetchTopicOffsetsByTimestamp(topic, b.time.getTime());
  return new Map(
    r.map((x) => {
      const o = Number(x.offset);
      return [x.partition, o < 0 ? (marks.get(x.partition)?.high ?? 0) : o];
    }),
  );
}

export async function planReplay(ctx: OpsContext, req: ReplayRequest): Promise<ReplayPartitionPlan[]> {
  if (!req.toTopic === !req.group)
    throw usageError(
      'REPLAY_TARGET',
      'replay needs exactly one target: --to-topic T (copy) or --group G (rewind)',
      `orderbus replay ${req.topic} --from-offset 0 --to-topic ${req.topic}.sandbox`,
    );
  const admin = await ctx.admin();
  await assertTopicExists(ctx, req.topic);
  const raw = await admin.fetchTopicOffsets(req.topic);
  const marks = new Map(raw.map((m) => [m.partition, { low: Number(m.low), high: Number(m.high) }]));
  if (req.partition !== undefined && !marks.has(req.partition))
    throw usageError(
      'UNKNOWN_PARTITION',
      `${req.topic} has partitions 0..${marks.size - 1}; there is no partition ${req.partition}`,
    );
  const starts = await boundOffsets(ctx, req.topic, req.from, marks);
  const ends = req.until ? await boundOffsets(ctx, req.topic, req.until, marks) : undefined;
  const plans: ReplayPartitionPlan[] = [];
  for (const [p, w] of [...marks].sort((a, b) => a[0] - b[0])) {
    if (req.partition !== undefined && p !== req.partition) continue;
    const from = Math.max(w.low, Math.min(starts.get(p) ?? w.high, w.high));
    const until = Math.max(from, Math.min(ends?.get(p) ?? w.high, w.high));
    if ('offset' in req.from && req.partition !== undefined && req.from.offset > w.high)
      throw usageError(
        'OFFSET_OUT_OF_RANGE',
        `--from-offset ${req.from.offset} is past the end of ${req.topic}/${p} (${w.high})`,
      );
    plans.push({ partition: p, from, until, records: until - from, fromTime: null, untilTime: null });
  }
  const probes = plans
    .filter((p) => p.records > 0)
    .flatMap((p) => [
      { topic: req.topic, partition: p.partition, offset: p.from },
      { topic: req.topic, partition: p.partition, offset: p.until - 1 },
    ]);
  const ts = await ctx.reader().timestamps(probes);
  for (const p of plans) {
    if (p.records === 0) continue;
    const a = ts.get(`${req.topic}/${p.partition}/${p.from}`);
    const b = ts.get(`${req.topic}/${p.partition}/${p.until - 1}`);
    p.fromTime = a !== undefined ? new Date(a).toISOString() : null;
    p.untilTime = b !== undefined ? new Date(b).toISOString() : null;
  }
  return plans;
}

export async function replay(ctx: OpsContext, req: ReplayRequest): Promise<ReplayResult> {
  const started = Date.now();
  const plans = await planReplay(ctx, req);
  const records = plans.reduce((s, p) => s + p.records, 0);
  const base: ReplayResult = {
    topic: req.topic,
    target: req.toTopic ? { topic: req.toTopic } : { group: req.group as string },
    execute: req.execute ?? false,
    records,
    partitions: plans,
    copied: 0,
    createdTopic: false,
    reset: null,
    auditRef: null,
    seconds: 0,
  };
  if (req.group) {
    const offsets = new Map(plans.map((p) => [p.partition, p.from]));
    base.reset = await resetOffsets(
      ctx,
      req.group,
      req.topic,
      { kind: 'map', offsets, label: `replay from ${JSON.stringify(req.from)}` },
      [...offsets.keys()],
      {
        execute: req.execute ?? false,
        waitEmpty: req.waitEmpty ?? false,
        command: req.command ?? `replay ${req.topic} --group ${req.group}`,
      },
    );
    base.auditRef = base.reset.auditRef;
    base.seconds = (Date.now() - started) / 1000;
    return base;
  }
  const toTopic = req.toTopic as string;
  if (toTopic === req.topic)
    throw new OrderbusError(
      'REPLAY_INTO_SOURCE',
      `replaying ${req.topic} into itself would duplicate every record for every consumer`,
      {
        exitCode: ExitCode.unsafe,
        hint: `orderbus replay ${req.topic} … --to-topic ${req.topic}.sandbox (or --group G to rewind one group)`,
      },
    );
  if (!req.execute) return base;
  const intent = {
    command: req.command ?? `replay ${req.topic} --to-topic ${toTopic}`,
    plan: {
      records,
      partitions: plans.map((p) => ({ partition: p.partition, from: p.from, until: p.until })),
    },
  };
  base.auditRef = await withAudit(ctx, intent, async (run) => {
    base.createdTopic = await ensureTarget(ctx, req.topic, toTopic);
    const admin = await ctx.admin();
    const targetPartitions =
      (await admin.fetchTopicMetadata({ topics: [toTopic] })).topics[0]?.partitions.length ?? 0;
    const job: CopyJob = {
      topic: req.topic,
      toTopic,
      targetPartitions,
      auditRef: run.id,
      plans: plans.filter((p) => p.records > 0),
    };
    let done = 0;
    req.onProgress?.(0, records);
    const progress = (n: number) => {
      done += n;
      run.progress({ copied: done, createdTopic: base.createdTopic });
      req.onProgress?.(done, records);
    };
    // Encoding records is CPU-bound in kafkajs: a large replay splits its partitions between this
    // thread and a worker thread, so both cores work (the copy of each partition stays in order).
    const [mine, theirs] = records >= WORKER_THRESHOLD ? splitPlans(job.plans) : [job.plans, []];
    try {
      await Promise.all([
        copyPartitions(ctx, { ...job, plans: mine }, progress),
        theirs.length > 0 ? copyInWorker(ctx.config, { ...job, plans: theirs }, progress) : undefined,
      ]);
    } finally {
      base.copied = done;
    }
    return { value: run.id, result: { copied: done, createdTopic: base.createdTopic } };
  });
  base.seconds = (Date.now() - started) / 1000;
  return base;
}

/** Creates the copy's target topic (as many partitions as the source) unless it exists; whether it did. */
async function ensureTarget(ctx: OpsContext, topic: string, toTopic: string): Promise<boolean> {
  const admin = await ctx.admin();
  if ((await admin.listTopics()).includes(toTopic)) return false;
  const sourcePartitions = (await admin.fetchTopicOffsets(topic)).length;
  await createTopicsAndWait(admin, [
    {
      topic: toTopic,
      numPartitions: sourcePartitions,
      replicationFactor: ctx.config.topics.replicationFactor,
    },
  ]);
  return true;
}

/** What a copy needs; plain data, so it can be handed to a worker thread. */
export interface CopyJob {
  topic: string;
  toTopic: string;
  targetPartitions: number;
  auditRef: string;
  plans: ReplayPartitionPlan[];
}

/** Below this many records a second thread costs more (its own clients) than it saves. */
const WORKER_THRESHOLD = 50_000;

/** Two groups of whole partitions with about as many records each (largest first, to the lighter). */
export function splitPlans(plans: ReplayPartitionPlan[]): [ReplayPartitionPlan[], ReplayPartitionPlan[]] {
  const groups: [ReplayPartitionPlan[], ReplayPartitionPlan[]] = [[], []];
  const load = [0, 0];
  for (const p of [...plans].sort((a, b) => b.records - a.records)) {
    const i = (load[0] ?? 0) <= (load[1] ?? 0) ? 0 : 1;
    groups[i].push(p);
    load[i] = (load[i] ?? 0) + p.records;
  }
  return groups;
}

/**
 * Copies the planned ranges with `ctx`'s reader and a batch producer of its own: a few partitions
 * at a time; within one, each fetch's records are appended (in order, as batches of up to
 * PRODUCE_BATCH_BYTES) while the next fetch runs. A partition number the target lacks goes to
 * the partition its key would choose there.
 */
export async function copyPartitions(
  ctx: OpsContext,
  job: CopyJob,
  onCopied: (n: number) => void,
): Promise<void> {
  if (job.plans.length === 0) return;
  const producer = new BatchProducer(ctx.producerKafka);
  // The headers every record of a partition shares are encoded once.
  const sourceTopic = Buffer.from(job.topic);
  const auditRef = Buffer.from(job.auditRef);
  const sourceTopicKey = Buffer.from(ReplayHeaders.sourceTopic);
  const sourcePartitionKey = Buffer.from(ReplayHeaders.sourcePartition);
  const sourceOffsetKey = Buffer.from(ReplayHeaders.sourceOffset);
  const auditRefKey = Buffer.from(ReplayHeaders.auditRef);
  const replayKeys = new Set<string>(Object.values(ReplayHeaders));
  try {
    const queue = [...job.plans];
    await Promise.all(
      Array.from({ length: Math.min(4, queue.length) }, async () => {
        for (let plan = queue.shift(); plan; plan = queue.shift()) {
          const p = plan;
          const sourcePartition = Buffer.from(String(p.partition));
          let pending: Promise<unknown> = Promise.resolve();
          await ctx.reader().readRange(
            job.topic,
            p.partition,
            p.from,
            p.until,
            async (batch) => {
              const byTarget = new Map<number, OutRecord[]>();
              for (const r of batch) {
                const headers: [HeaderValue, HeaderValue | null][] = [];
                // Byte for byte, every value of a repeated name (grouped by name, in order).
                for (const k in r.rawHeaders)
                  if (!replayKeys.has(k)) for (const v of r.rawHeaders[k] ?? []) headers.push([k, v]);
                headers.push(
                  [sourceTopicKey, sourceTopic],
                  [sourcePartitionKey, sourcePartition],
                  [sourceOffsetKey, String(r.offset)],
                  [auditRefKey, auditRef],
                );
                const target =
                  p.partition < job.targetPartitions
                    ? p.partition
                    : r.key
                      ? partitionForKey(r.key, job.targetPartitions)
                      : p.partition % job.targetPartitions;
                let list = byTarget.get(target);
                if (!list) byTarget.set(target, (list = []));
                list.push({ key: r.key, value: r.value, timestamp: r.timestamp, headers });
              }
              // The previous fetch's appends finish before these start (order within the
              // partition); the next fetch runs meanwhile.
              await pending;
              for (const [target, records] of byTarget)
                for (const chunk of byteChunks(records, PRODUCE_BATCH_BYTES))
                  pending = pending.then(() =>
                    producer.send(job.toTopic, target, chunk).then(() => onCopied(chunk.length)),
                  );
              // Awaited before the next chunk or at the end; handled here so a failure that lands
              // while the next fetch runs is not an unhandled rejection.
              pending.catch(() => undefined);
            },
            { maxBytes: 4 * 1024 * 1024 },
          );
          await pending;
        }
      }),
    );
  } finally {
    await producer.close().catch(() => undefined);
  }
}

/** `copyPartitions` in a worker thread (replay-worker.ts) with its own clients; progress is reported back. */
function copyInWorker(config: OrderbusConfig, job: CopyJob, onCopied: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./replay-worker.js', import.meta.url), {
      workerData: { config, job },
    });
    let failed: Error | undefined;
    let finished = false;
    // The worker says when it is done: its clients may keep its event loop alive for a while
    // after they were closed, so it is terminated rather than waited for.
    worker.on(
      'message',
      (m: { copied?: number; done?: boolean; error?: { code?: string; message: string } }) => {
        if (m.copied) onCopied(m.copied);
        if (m.error)
          failed = new OrderbusError(m.error.code ?? 'REPLAY_FAILED', m.error.message, {
            hint: `orderbus replay ${job.topic} … --to-topic ${job.toTopic} --execute (copies again; records carry their source offset)`,
          });
        if (m.done) {
          finished = true;
          void worker.terminate();
        }
      },
    );
    worker.on('error', (e) => (failed ??= e));
    worker.on('exit', (code) => {
      if (failed) reject(failed);
      else if (!finished)
        reject(new Error(`the replay worker thread exited with code ${code} before it was done`));
      else resolve();
    });
  });
}

/**
 * The broker refuses a batch above its message.max.bytes (1 MiB by default): batches are cut
 * well below it.
 */
const PRODUCE_BATCH_BYTES = 512 * 1024;

export function byteChunks(records: OutRecord[], maxBytes: number): OutRecord[][] {
  const out: OutRecord[][] = [];
  let current: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const b = approxRecordBytes(r);
    if (current.length > 0 && bytes + b > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += b;
  }
  if (current.length > 0) out.push(current);
  return out;
}

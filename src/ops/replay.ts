import { Worker } from 'node:worker_threads';
import type { IHeaders } from 'kafkajs';
import { createTopicsAndWait, sendConfirmed } from '../adapters/kafka.js';
import type { OrderbusConfig } from '../config.js';
import { ReplayHeaders } from '../events/types.js';
import { ExitCode, OrderbusError, usageError } from '../errors.js';
import { appendAudit, newAuditRef } from './audit.js';
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
  await assertTopicExists(admin, req.topic);
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
  const admin = await ctx.admin();
  const sourcePartitions = (await admin.fetchTopicOffsets(req.topic)).length;
  if (!(await admin.listTopics()).includes(toTopic)) {
    await createTopicsAndWait(admin, [
      {
        topic: toTopic,
        numPartitions: sourcePartitions,
        replicationFactor: ctx.config.topics.replicationFactor,
      },
    ]);
    base.createdTopic = true;
  }
  const targetPartitions =
    (await admin.fetchTopicMetadata({ topics: [toTopic] })).topics[0]?.partitions.length ?? 0;
  const auditRef = newAuditRef();
  const job: CopyJob = {
    topic: req.topic,
    toTopic,
    targetPartitions,
    auditRef,
    plans: plans.filter((p) => p.records > 0),
  };
  let done = 0;
  req.onProgress?.(0, records);
  const progress = (n: number) => {
    done += n;
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
  const rec = await appendAudit(ctx, {
    id: auditRef,
    command: req.command ?? `replay ${req.topic} --to-topic ${toTopic}`,
    plan: {
      records,
      partitions: plans.map((p) => ({ partition: p.partition, from: p.from, until: p.until })),
    },
    result: { copied: done, createdTopic: base.createdTopic },
  });
  base.auditRef = rec.id;
  base.seconds = (Date.now() - started) / 1000;
  return base;
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
 * Copies the planned ranges with `ctx`'s reader and a producer of its own: a few partitions at a
 * time; within one, each fetch's records are sent (in order) while the next fetch runs.
 */
export async function copyPartitions(
  ctx: OpsContext,
  job: CopyJob,
  onCopied: (n: number) => void,
): Promise<void> {
  if (job.plans.length === 0) return;
  const producer = ctx.producerKafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 5 });
  await producer.connect();
  // The headers every record of a partition shares are encoded once.
  const sourceTopic = Buffer.from(job.topic);
  const auditRef = Buffer.from(job.auditRef);
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
              const messages = batch.map((r) => {
                const headers: IHeaders = { ...r.headers };
                headers[ReplayHeaders.sourceTopic] = sourceTopic;
                headers[ReplayHeaders.sourcePartition] = sourcePartition;
                headers[ReplayHeaders.sourceOffset] = String(r.offset);
                headers[ReplayHeaders.auditRef] = auditRef;
                return {
                  key: r.key,
                  value: r.value,
                  headers,
                  timestamp: String(r.timestamp),
                  ...(p.partition < job.targetPartitions ? { partition: p.partition } : {}),
                };
              });
              // The previous fetch's sends finish before these start (order within the partition);
              // the next fetch runs meanwhile.
              await pending;
              for (const chunk of byteChunks(messages, PRODUCE_CHUNK_BYTES))
                pending = pending.then(() =>
                  sendConfirmed(
                    producer,
                    { acks: -1, topicMessages: [{ topic: job.toTopic, messages: chunk }] },
                    ctx.partitionsOf,
                  ).then(() => onCopied(chunk.length)),
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
    await producer.disconnect().catch(() => undefined);
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
 * One produce request carries one record batch per partition, and the broker refuses a batch
 * above its message.max.bytes (1 MiB by default): sends are cut well below it. Smaller is faster
 * up to a point: kafkajs groups a send's messages by partition in time quadratic in their number
 * (and sorts their timestamps), so 128 KiB copied 300,000 records ~15 % faster than 512 KiB
 * (64 KiB and 32 KiB were slower again: more requests).
 */
const PRODUCE_CHUNK_BYTES = 128 * 1024;

interface SizedMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

function approxBytes(m: SizedMessage): number {
  let n = 70 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers))
    n += k.length + (v === undefined ? 0 : String(v).length) + 8;
  return n;
}

export function byteChunks<T extends SizedMessage>(messages: T[], maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const b = approxBytes(m);
    if (current.length > 0 && bytes + b > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += b;
  }
  if (current.length > 0) out.push(current);
  return out;
}

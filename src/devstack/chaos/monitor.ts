import { errorMessage } from '../../errors.js';
import type { OpsContext } from '../../ops/context.js';
import { lagSnapshot, LagMonitor } from '../../ops/lag.js';
import { listQueues } from '../../ops/queues.js';
import type { DrillPipeline } from './pipeline.js';

/**
 * Samples the drill pipeline while the drill runs: consumer lag and time lag per group, depth of
 * every queue, and the unsent outbox. Keeps the peaks per phase and tells when the pipeline is
 * quiet (nothing left to do anywhere), which is what "settled" and "recovered" are measured on.
 * A broker that is down makes a sample fail; that is recorded, never fatal.
 */
export interface PipelineSample {
  at: number;
  /** Total lag per group (records); absent when Kafka could not be read. */
  lag?: Record<string, number>;
  timeLagMs?: Record<string, number>;
  /** ready + unacked per queue; absent when RabbitMQ could not be read. */
  queues?: Record<string, number>;
  outboxUnsent?: number;
  shipmentsPending?: number;
  errors: string[];
}

export interface Peaks {
  lag: Record<string, number>;
  timeLagMs: Record<string, number>;
  queues: Record<string, number>;
  outboxUnsent: number;
}

export const emptyPeaks = (): Peaks => ({ lag: {}, timeLagMs: {}, queues: {}, outboxUnsent: 0 });

function bump(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = Math.max(into[k] ?? 0, v);
}

export class PipelineMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private phase = 'setup';
  readonly peaks = new Map<string, Peaks>();
  last: PipelineSample | undefined;
  samples = 0;
  sampleErrors = 0;

  constructor(
    private readonly ops: OpsContext,
    private readonly pipeline: DrillPipeline,
    private readonly intervalMs = 1000,
  ) {}

  setPhase(phase: string): void {
    this.phase = phase;
  }

  start(): void {
    const tick = () => {
      this.running = this.sample()
        .then((s) => this.observe(s))
        .catch(() => undefined)
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }

  peaksOf(phase: string): Peaks {
    return this.peaks.get(phase) ?? emptyPeaks();
  }

  /** Adds a sample to the current phase's peaks. */
  observe(s: PipelineSample): void {
    this.last = s;
    this.samples++;
    if (s.errors.length > 0) this.sampleErrors++;
    const p = this.peaks.get(this.phase) ?? emptyPeaks();
    bump(p.lag, s.lag);
    bump(p.timeLagMs, s.timeLagMs);
    bump(p.queues, s.queues);
    p.outboxUnsent = Math.max(p.outboxUnsent, s.outboxUnsent ?? 0);
    this.peaks.set(this.phase, p);
  }

  /** One observation of the whole pipeline. */
  async sample(): Promise<PipelineSample> {
    const s: PipelineSample = { at: Date.now(), errors: [] };
    const prefix = this.pipeline.config.kafka.groupPrefix;
    const groups = new Set(this.pipeline.groups);
    await Promise.all([
      (async () => {
        try {
          const admin = await this.ops.admin();
          const existing = (await admin.listGroups()).groups
            .map((g) => g.groupId)
            .filter((g) => groups.has(g));
          const snap =
            existing.length > 0
              ? await lagSnapshot(this.ops, { groups: existing, timeLag: true })
              : { at: Date.now(), groups: [], recordTimestamps: new Map<string, number>() };
          const m = new LagMonitor(1);
          m.add(snap);
          const report = m.evaluate();
          // Every drill group reads order.events: a partition missing from a group's report (the
          // group is rebalancing and has committed nothing there yet) is owed whole.
          const marks = await admin.fetchTopicOffsets(this.pipeline.config.topics.orderEvents);
          s.lag = {};
          s.timeLagMs = {};
          for (const g of report.groups) {
            const name = g.group.slice(prefix.length);
            s.lag[name] = groupLag(g.partitions, this.pipeline.config.topics.orderEvents, marks);
            s.timeLagMs[name] = g.maxTimeLagMs ?? 0;
          }
          for (const g of groups) if (!(g.slice(prefix.length) in s.lag)) s.lag[g.slice(prefix.length)] = -1;
        } catch (e) {
          s.errors.push(`kafka: ${errorMessage(e)}`);
        }
      })(),
      (async () => {
        try {
          const qs = await listQueues(this.ops);
          s.queues = {};
          for (const q of qs) {
            if (!q.name.startsWith(this.pipeline.config.rabbitPrefix)) continue;
            s.queues[q.name.slice(this.pipeline.config.rabbitPrefix.length)] = q.ready + q.unacked;
          }
          // The management API's figures lag (and read 0 right after a restart): the broker's own
          // count of ready messages must agree before a queue counts as empty.
          const conn = await this.ops.amqp();
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          try {
            for (const name of Object.keys(s.queues)) {
              if (name.endsWith('.dlq')) continue;
              const q = await ch.checkQueue(`${this.pipeline.config.rabbitPrefix}${name}`);
              s.queues[name] = Math.max(s.queues[name] ?? 0, q.messageCount);
            }
          } finally {
            await ch.close().catch(() => undefined);
          }
        } catch (e) {
          s.errors.push(`rabbitmq: ${errorMessage(e)}`);
        }
      })(),
      (async () => {
        try {
          const r = await this.pipeline.pool.query<{ outbox: number; shipments: number }>(
            `SELECT (SELECT count(*)::int FROM outbox WHERE sent_at IS NULL) AS outbox,
                    (SELECT count(*)::int FROM shipments WHERE status = 'pending') AS shipments`,
          );
          s.outboxUnsent = r.rows[0]?.outbox ?? 0;
          s.shipmentsPending = r.rows[0]?.shipments ?? 0;
        } catch (e) {
          s.errors.push(`postgres: ${errorMessage(e)}`);
        }
      })(),
    ]);
    return s;
  }
}

interface LagPartition {
  topic: string;
  partition: number;
  lag: number | null;
  logStart: number;
  logEnd: number;
}

/**
 * A group's lag in records: its reported partitions (one it never committed on counts whole),
 * plus every partition of `topic` the report does not name at all, counted whole — a group that
 * is rebalancing and has committed nothing yet reports no partitions, and it is not caught up.
 */
export function groupLag(
  partitions: LagPartition[],
  topic: string,
  topicMarks: { partition: number; low: string; high: string }[],
): number {
  let lag = partitions.reduce((n, p) => n + (p.lag ?? Math.max(0, p.logEnd - p.logStart)), 0);
  const named = new Set(partitions.filter((p) => p.topic === topic).map((p) => p.partition));
  for (const m of topicMarks) if (!named.has(m.partition)) lag += Math.max(0, Number(m.high) - Number(m.low));
  return lag;
}

/** Nothing left to do: no lag, no task waiting or being worked on, nothing unsent or unshipped. */
export function isQuiet(s: PipelineSample): boolean {
  if (s.errors.length > 0 || !s.lag || !s.queues) return false;
  if (Object.values(s.lag).some((l) => l !== 0)) return false;
  const working = Object.entries(s.queues).filter(([q]) => !q.endsWith('.dlq'));
  if (working.some(([, d]) => d > 0)) return false;
  return (s.outboxUnsent ?? 1) === 0 && (s.shipmentsPending ?? 1) === 0;
}

/** Back to the steady state: lag and work-queue depth no higher than the baseline's peaks. */
export function isBackToBaseline(s: PipelineSample, baseline: Peaks): boolean {
  if (s.errors.length > 0 || !s.lag || !s.queues) return false;
  const lagOk = Object.entries(s.lag).every(([g, l]) => l >= 0 && l <= Math.max(baseline.lag[g] ?? 0, 0));
  const queuesOk = Object.entries(s.queues)
    .filter(([q]) => !q.endsWith('.dlq'))
    .every(([q, d]) => d <= (baseline.queues[q] ?? 0));
  return lagOk && queuesOk && (s.outboxUnsent ?? 0) <= baseline.outboxUnsent;
}

/** What keeps a sample from being quiet, one short phrase each (for the report). */
export function pendingWork(s: PipelineSample | undefined): string[] {
  if (!s) return ['no sample'];
  const out = [...s.errors];
  for (const [g, l] of Object.entries(s.lag ?? {}))
    if (l !== 0) out.push(l < 0 ? `group ${g} absent` : `${g} lag ${l}`);
  for (const [q, d] of Object.entries(s.queues ?? {}))
    if (!q.endsWith('.dlq') && d > 0) out.push(`${q} ${d}`);
  if (s.outboxUnsent) out.push(`outbox unsent ${s.outboxUnsent}`);
  if (s.shipmentsPending) out.push(`shipments pending ${s.shipmentsPending}`);
  return out;
}

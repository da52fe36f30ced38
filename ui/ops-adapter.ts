import type { OrderbusConfig } from '../src/config.js';
import { usageError } from '../src/errors.js';
import { OpsContext } from '../src/ops/context.js';
import { listDlqs, purgeDlq, redriveDlq, showDlq, type RedriveOptions } from '../src/ops/dlq/index.js';
import type { Json } from '../src/ops/dlq/index.js';
import { kafkaOutstanding, outstandingCount } from '../src/ops/dlq/kafka-cursor.js';
import { kafkaEngine } from '../src/ops/dlq/kafka-engine.js';
import { depth as rabbitDepth } from '../src/ops/dlq/rabbit-stream.js';
import { LagMonitor, lagSnapshot } from '../src/ops/lag.js';
import { planReset, resetOffsets } from '../src/ops/offsets.js';
import { listQueues } from '../src/ops/queues.js';
import { traceOrder } from '../src/ops/trace.js';
import { componentHealth } from '../src/ops/health.js';
import { targetLine } from '../src/ops/target.js';
import {
  COMPONENT_VIEW_FIELDS,
  DLQ_VIEW_FIELDS,
  QUEUE_VIEW_FIELDS,
  kafkaDlqRow,
  type ComponentView,
  type ConsoleOps,
  type DlqPage,
  type DlqView,
  type GroupView,
  type OverviewData,
  type PlanOptions,
  type QueueView,
  type RedriveRequest,
  type ResetPlanView,
} from './model.js';

/**
 * The console's port onto `src/ops`: the same calls the CLI makes, mapped to view models. No
 * logic of its own beyond keeping the lag window between refreshes and reconnecting after an
 * outage (a broker that stops answering shows as down; the next refresh tries again).
 */
export class OpsAdapter implements ConsoleOps {
  private readonly ctx: OpsContext;
  private readonly monitor: LagMonitor;
  private lastGroups: GroupView[] = [];
  /** The plan id each shown redrive preview had: executing that request runs exactly that plan. */
  private readonly shownPlans = new WeakMap<RedriveRequest, string>();

  constructor(private readonly config: OrderbusConfig) {
    this.ctx = new OpsContext(config);
    this.monitor = new LagMonitor(config.lag.windowSamples, config.lag.thresholds);
  }

  target(): Promise<string> {
    return targetLine(this.ctx);
  }

  async overview(): Promise<OverviewData> {
    const [groups, queues, kafkaDlqs, components] = await Promise.all([
      this.groups(),
      // Only the target's components (config.components): no RabbitMQ, no queue panel rows.
      (this.config.components.includes('rabbitmq') ? listQueues(this.ctx) : Promise.resolve([])).then(
        (qs) => qs.filter((q) => q.role !== 'retry').map((q) => pick(q, QUEUE_VIEW_FIELDS)),
        () => [] as QueueView[],
      ),
      this.kafkaDlqRows().catch(() => [] as QueueView[]),
      componentHealth(this.config).then(
        (cs) => cs.map((c) => pick(c, COMPONENT_VIEW_FIELDS)),
        () => [] as ComponentView[],
      ),
    ]);
    return { groups, queues: [...queues, ...kafkaDlqs], components };
  }

  /** The Kafka DLQ topics beside the RabbitMQ DLQs: their outstanding letters (past the DLQ cursor). */
  private async kafkaDlqRows(): Promise<QueueView[]> {
    const names = await kafkaEngine.list(this.ctx);
    return Promise.all(
      names.map(async (name) => kafkaDlqRow(name, outstandingCount(await kafkaOutstanding(this.ctx, name)))),
    );
  }

  /**
   * Each RabbitMQ queue's messages as the management API counts them, ready + unacknowledged: a
   * letter a browse or a plan holds is still a dead letter (a passive declare counts only ready).
   */
  private async heldCounts(): Promise<Map<string, number>> {
    const queues = await listQueues(this.ctx).catch(() => []);
    return new Map(queues.map((q) => [q.name, q.ready + q.unacked]));
  }

  private async groups(): Promise<GroupView[]> {
    try {
      this.monitor.add(await lagSnapshot(this.ctx, { timeLag: true }));
    } catch {
      // The clients reconnect by themselves on the next poll; nothing is torn down here, so
      // work in progress on other screens (a browse, a redrive) is never cut off.
      // Kafka is down: keep the last numbers, each group marked ERR until it answers again.
      return this.lastGroups.map((g) => ({ ...g, status: 'ERR', state: 'unreachable' }));
    }
    const report = this.monitor.evaluate();
    this.lastGroups = report.groups
      .filter((g) => !g.group.startsWith('orderbus-dlq.'))
      .map((g) => ({
        group: g.group,
        state: g.state,
        members: g.members,
        status: g.status,
        totalLag: g.totalLag,
        timeLagMs: g.maxTimeLagMs,
        etaSeconds: g.etaSeconds,
        partitions: g.partitions.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          committed: p.committed,
          end: p.logEnd,
          lag: p.lag ?? 0,
          timeLagMs: p.timeLagMs,
          owner: p.owner ? `${p.owner.clientId}@${p.owner.host}` : null,
          status: p.status,
        })),
      }));
    return this.lastGroups;
  }

  async planReset(group: string, topic: string, strategy: 'earliest' | 'latest'): Promise<ResetPlanView> {
    const plan = await planReset(this.ctx, group, topic, { kind: strategy });
    return {
      group,
      topic,
      strategy,
      rows: plan.rows.map((r) => ({
        partition: r.partition,
        current: r.current,
        target: r.target,
        delta: r.delta ?? 0,
      })),
    };
  }

  async executeReset(plan: ResetPlanView): Promise<void> {
    const kind = plan.strategy === 'latest' ? 'latest' : 'earliest';
    await resetOffsets(this.ctx, plan.group, plan.topic, { kind }, undefined, {
      execute: true,
      command: `console: offsets reset --group ${plan.group} --topic ${plan.topic} --to-${kind}`,
    });
  }

  async dlqs(): Promise<DlqView[]> {
    const [list, held] = await Promise.all([listDlqs(this.ctx), this.heldCounts()]);
    return list.map((d) => ({
      ...pick(d, DLQ_VIEW_FIELDS),
      count: d.kind === 'rabbitmq' ? Math.max(d.count, held.get(d.name) ?? 0) : d.count,
    }));
  }

  async dlqMessages(dlq: string, limit: number): Promise<DlqPage> {
    const msgs = await showDlq(this.ctx, dlq, { limit });
    const held = (await this.heldCounts()).get(dlq);
    // The management API's counts are a few seconds old: a passive declare's ready count is not.
    const total =
      held === undefined
        ? await kafkaOutstanding(this.ctx, dlq).then(outstandingCount, () => msgs.length)
        : Math.max(held, await rabbitDepth(this.ctx, dlq).catch(() => 0));
    const messages = msgs.map((m) => ({
      id: m.id,
      payload: m.payload !== null ? JSON.stringify(m.payload, null, 2) : m.raw,
      headers: m.headers,
      attempts: m.attempts,
      errorClass: m.errorClass,
      errorMessage: m.errorMessage,
      destination: m.destination,
    }));
    return { messages, total: Math.max(total, messages.length) };
  }

  private options(request: RedriveRequest): RedriveOptions {
    const replacements: Record<string, Json> = {};
    for (const [id, text] of Object.entries(request.edits ?? {})) {
      try {
        replacements[id] = JSON.parse(text) as Json;
      } catch (e) {
        throw usageError(
          'EDIT_NOT_JSON',
          `the edited payload of ${id} is not valid JSON: ${(e as Error).message}`,
          'press e to edit it again',
        );
      }
    }
    return {
      ...(request.ids ? { ids: request.ids } : {}),
      ...(request.fixUrl ? { fixUrl: request.fixUrl } : {}),
      replacements,
    };
  }

  async planRedrive(request: RedriveRequest, { signal, onProgress }: PlanOptions = {}) {
    const r = await redriveDlq(this.ctx, request.dlq, {
      ...this.options(request),
      execute: false,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    this.shownPlans.set(request, r.planId);
    return {
      toRedrive: r.toRedrive,
      unchanged: r.unchanged,
      invalid: r.invalid,
      diffs: r.items
        .filter((i) => i.changed || !i.valid)
        .map((i) =>
          [`${i.id} → ${i.destination ?? '?'}`, ...i.diff, ...i.problems.map((p) => `! ${p}`)].join('\n'),
        ),
    };
  }

  async executeRedrive(request: RedriveRequest, onProgress: (done: number, total: number) => void) {
    const r = await redriveDlq(this.ctx, request.dlq, {
      ...this.options(request),
      execute: true,
      ...(this.shownPlans.has(request) ? { plan: this.shownPlans.get(request) } : {}),
      onProgress,
      command: `console: dlq redrive ${request.dlq}${request.fixUrl ? ` --fix-url ${request.fixUrl.from}=${request.fixUrl.to}` : ''}`,
    });
    return { redriven: r.redriven, failed: r.failed + r.invalid + r.missing, remaining: r.remaining };
  }

  async purge(dlq: string) {
    const r = await purgeDlq(this.ctx, dlq, { execute: true, command: `console: dlq purge ${dlq}` });
    return { removed: r.count };
  }

  async trace(orderId: string) {
    const t = await traceOrder(this.ctx, orderId);
    return {
      orderId: t.orderId,
      status: t.status,
      topic: t.topic,
      partition: t.partition,
      unavailable: t.unavailable,
      entries: t.entries.map((e) => ({ at: e.at, where: `${e.source} ${e.where}`, what: e.what })),
      groups: t.groups.map((g) => ({ group: g.group, committed: g.committed, unseen: g.unseen })),
    };
  }

  async close(): Promise<void> {
    await this.ctx.close();
  }
}

/** The named fields of an ops result, as the view type derived from it. */
function pick<T, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, from[k]])) as Pick<T, K>;
}

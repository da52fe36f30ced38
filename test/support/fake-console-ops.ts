import { unknownNameError } from '../../src/errors.js';
import { applyEdits, jsonDiff, type Json } from '../../src/ops/dlq/edits.js';
import { failureClass, taskFailure } from '../../src/ops/dlq/failure.js';
import {
  kafkaDlqRow,
  type ConsoleOps,
  type DlqMessageView,
  type DlqPage,
  type DlqView,
  type GroupView,
  type OverviewData,
  type PlanOptions,
  type QueueView,
  type RedriveRequest,
  type ResetPlanView,
  type TraceView,
} from '../../ui/model.js';

const DEFAULT_QUEUES: QueueView[] = [
  {
    name: 'email.tasks',
    type: 'classic',
    ready: 3,
    unacked: 1,
    consumers: 2,
    publishRate: 12.5,
    deliverRate: 12,
    ackRate: 12,
    dlqDepth: 0,
  },
  {
    name: 'webhook.tasks',
    type: 'quorum',
    ready: 0,
    unacked: 0,
    consumers: 1,
    publishRate: 4,
    deliverRate: 4,
    ackRate: 4,
    dlqDepth: 0,
  },
];

/**
 * In-memory ConsoleOps for UI unit tests only (never proof that a broker path works: the console's
 * integration test drives the real one). test/support/console-ops-contract.ts runs the same cases
 * against it and the real adapter: redrive removes what it sent, purge empties, a reset plans every
 * partition of an existing topic, errors are OrderbusErrors with the real codes. Payload edits,
 * diffs and failure classes use the real pure functions of src/ops/dlq.
 */
export class FakeConsoleOps implements ConsoleOps {
  overviewData: OverviewData;
  dlqMessagesByName: Record<string, DlqMessageView[]>;
  redriven: { dlq: string; message: DlqMessageView; payload: string }[] = [];
  resets: ResetPlanView[] = [];
  failOverview: { code: string; message: string; hint: string } | null = null;
  traces: Record<string, TraceView> = {};
  /** Log-end offset of each partition, by topic (a group lists only the partitions it committed on). */
  topics: Record<string, number[]>;
  /** DLQs of `dlq` that are Kafka topics (listed on the overview beside the RabbitMQ queues). */
  kafkaDlqs: string[];
  /**
   * A live incident's slow plan: while true, a plan scans half its letters, reports it, and waits
   * (holding them) until `releasePlans()` or its signal aborts.
   */
  holdPlans = false;
  /** Letters a plan in progress holds, by DLQ (counted by dlqs() and browses, as ready + unacked). */
  held: Record<string, number> = {};
  cancelledPlans = 0;
  private release: (() => void)[] = [];

  constructor(
    data: {
      groups?: GroupView[];
      queues?: QueueView[];
      topics?: Record<string, number[]>;
      dlq?: Record<string, DlqMessageView[]>;
      kafkaDlqs?: string[];
    } = {},
  ) {
    this.overviewData = {
      groups: data.groups ?? [],
      queues: data.queues ?? DEFAULT_QUEUES,
      components: [
        { name: 'kafka', status: 'up', address: '127.0.0.1:9092' },
        { name: 'rabbitmq', status: 'up', address: '127.0.0.1:5672' },
      ],
    };
    this.dlqMessagesByName = data.dlq ?? {};
    this.topics = data.topics ?? {};
    this.kafkaDlqs = data.kafkaDlqs ?? [];
  }

  async overview(): Promise<OverviewData> {
    if (this.failOverview) throw Object.assign(new Error(this.failOverview.message), this.failOverview);
    const data = structuredClone(this.overviewData);
    // As the management API reports it: the depth of the queue's DLQ now.
    for (const q of data.queues) q.dlqDepth = this.dlqMessagesByName[`${q.name}.dlq`]?.length ?? q.dlqDepth;
    for (const name of this.kafkaDlqs)
      data.queues.push(kafkaDlqRow(name, this.dlqMessagesByName[name]?.length ?? 0));
    return data;
  }

  /** Log-end offsets by partition: the topic's own when given, else what its groups show. */
  private topicEnds(topic: string): Map<number, number> {
    const given = this.topics[topic];
    if (given) return new Map(given.map((end, partition) => [partition, end]));
    const ends = new Map<number, number>();
    for (const g of this.overviewData.groups)
      for (const p of g.partitions)
        if (p.topic === topic) ends.set(p.partition, Math.max(p.end, ends.get(p.partition) ?? 0));
    return ends;
  }

  async planReset(group: string, topic: string, strategy: 'earliest' | 'latest'): Promise<ResetPlanView> {
    const ends = this.topicEnds(topic);
    if (ends.size === 0) {
      const topics = this.overviewData.groups.flatMap((g) => g.partitions.map((p) => p.topic));
      const known = [...new Set([...Object.keys(this.topics), ...topics])];
      throw unknownNameError('topic', topic, known, 'orderbus stack status');
    }
    const committed = this.overviewData.groups.find((g) => g.group === group)?.partitions ?? [];
    return {
      group,
      topic,
      strategy,
      rows: [...ends]
        .sort(([a], [b]) => a - b)
        .map(([partition, end]) => {
          const current =
            committed.find((p) => p.topic === topic && p.partition === partition)?.committed ?? null;
          const target = strategy === 'latest' ? end : 0;
          return { partition, current, target, delta: current === null ? 0 : target - current };
        }),
    };
  }

  async executeReset(plan: ResetPlanView): Promise<void> {
    this.resets.push(plan);
  }

  async dlqs(): Promise<DlqView[]> {
    return Object.entries(this.dlqMessagesByName).map(([name, msgs]) => {
      const times = msgs
        .map((m) => m.headers['x-last-failure-at'])
        .filter((t) => t !== undefined)
        .sort();
      return {
        name,
        kind: this.kafkaDlqs.includes(name) ? ('kafka' as const) : ('rabbitmq' as const),
        count: msgs.length,
        oldest: times[0] ?? null,
        newest: times[times.length - 1] ?? null,
        byClass: msgs.reduce<Record<string, number>>((acc, m) => {
          const label = failureClass({ ...taskFailure(m.headers), errorClass: m.errorClass });
          return { ...acc, [label]: (acc[label] ?? 0) + 1 };
        }, {}),
      };
    });
  }

  private messages(dlq: string): DlqMessageView[] {
    const msgs = this.dlqMessagesByName[dlq];
    if (!msgs) throw unknownNameError('dlq', dlq, Object.keys(this.dlqMessagesByName), 'orderbus dlq list');
    return msgs;
  }

  /** A browse reads past none of the letters a plan holds; the total counts them. */
  async dlqMessages(dlq: string, limit: number): Promise<DlqPage> {
    const all = this.messages(dlq);
    return { messages: all.slice(this.held[dlq] ?? 0).slice(0, limit), total: all.length };
  }

  /** Lets every held plan finish. */
  releasePlans(): void {
    this.holdPlans = false;
    for (const r of this.release.splice(0)) r();
  }

  /** Scans (and holds) half the letters, then waits for releasePlans() or the abort. */
  private async holdHalf(dlq: string, total: number, { signal, onProgress }: PlanOptions): Promise<void> {
    const half = Math.ceil(total / 2);
    this.held[dlq] = half;
    onProgress?.(half, total);
    try {
      await new Promise<void>((resolve, reject) => {
        this.release.push(resolve);
        signal?.addEventListener('abort', () => {
          this.cancelledPlans++;
          reject(signal.reason as Error);
        });
      });
    } finally {
      delete this.held[dlq];
    }
  }

  private select(r: RedriveRequest) {
    return this.messages(r.dlq).filter((m) => !r.ids || r.ids.includes(m.id));
  }

  /** The payload after the request's edit and URL fix, as the real plan computes it. */
  private transform(r: RedriveRequest, m: DlqMessageView): Json {
    const edited = JSON.parse(r.edits?.[m.id] ?? m.payload) as Json;
    return r.fixUrl ? applyEdits(edited, { fixUrl: r.fixUrl }) : edited;
  }

  async planRedrive(r: RedriveRequest, options: PlanOptions = {}) {
    options.signal?.throwIfAborted();
    const total = this.messages(r.dlq).length;
    options.onProgress?.(0, total);
    if (this.holdPlans) await this.holdHalf(r.dlq, total, options);
    options.onProgress?.(total, total);
    const sel = this.select(r);
    const changed = sel.filter(
      (m) => JSON.stringify(this.transform(r, m)) !== JSON.stringify(JSON.parse(m.payload)),
    );
    return {
      toRedrive: sel.length,
      unchanged: sel.length - changed.length,
      invalid: 0,
      diffs: changed.map((m) =>
        [
          `${m.id} → ${m.destination ?? '?'}`,
          ...jsonDiff(JSON.parse(m.payload) as Json, this.transform(r, m)),
        ].join('\n'),
      ),
    };
  }

  async executeRedrive(r: RedriveRequest, onProgress: (done: number, total: number) => void) {
    const sel = this.select(r);
    sel.forEach((m, i) => {
      this.redriven.push({ dlq: r.dlq, message: m, payload: JSON.stringify(this.transform(r, m)) });
      onProgress(i + 1, sel.length);
    });
    this.dlqMessagesByName[r.dlq] = this.messages(r.dlq).filter((m) => !sel.includes(m));
    return { redriven: sel.length, failed: 0, remaining: this.dlqMessagesByName[r.dlq]?.length ?? 0 };
  }

  async purge(dlq: string) {
    const removed = this.messages(dlq).length;
    this.dlqMessagesByName[dlq] = [];
    return { removed };
  }

  async trace(orderId: string): Promise<TraceView> {
    return (
      this.traces[orderId] ?? {
        orderId,
        status: null,
        topic: 'order.events',
        partition: 0,
        entries: [],
        groups: [],
        unavailable: [],
      }
    );
  }

  async close(): Promise<void> {}
}

import { unknownNameError } from '../../src/errors.js';
import { applyEdits, jsonDiff, type Json } from '../../src/ops/dlq/edits.js';
import { failureClass, taskFailure } from '../../src/ops/dlq/failure.js';
import type {
  ConsoleOps,
  DlqMessageView,
  DlqView,
  GroupView,
  OverviewData,
  QueueView,
  RedriveRequest,
  ResetPlanView,
  TraceView,
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

  constructor(
    data: {
      groups?: GroupView[];
      queues?: QueueView[];
      topics?: Record<string, number[]>;
      dlq?: Record<string, DlqMessageView[]>;
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
  }

  async overview(): Promise<OverviewData> {
    if (this.failOverview) throw Object.assign(new Error(this.failOverview.message), this.failOverview);
    const data = structuredClone(this.overviewData);
    // As the management API reports it: the depth of the queue's DLQ now.
    for (const q of data.queues) q.dlqDepth = this.dlqMessagesByName[`${q.name}.dlq`]?.length ?? q.dlqDepth;
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
        kind: 'rabbitmq' as const,
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

  async dlqMessages(dlq: string, limit: number) {
    return this.messages(dlq).slice(0, limit);
  }

  private select(r: RedriveRequest) {
    return this.messages(r.dlq).filter((m) => !r.ids || r.ids.includes(m.id));
  }

  /** The payload after the request's edit and URL fix, as the real plan computes it. */
  private transform(r: RedriveRequest, m: DlqMessageView): Json {
    const edited = JSON.parse(r.edits?.[m.id] ?? m.payload) as Json;
    return r.fixUrl ? applyEdits(edited, { fixUrl: r.fixUrl }) : edited;
  }

  async planRedrive(r: RedriveRequest) {
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
    return this.traces[orderId] ?? { orderId, status: null, entries: [] };
  }

  async close(): Promise<void> {}
}

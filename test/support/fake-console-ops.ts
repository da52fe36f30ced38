import type {
  ConsoleOps,
  DlqMessageView,
  GroupView,
  OverviewData,
  RedriveRequest,
  ResetPlanView,
  TraceView,
} from '../../ui/model.js';

/**
 * In-memory ConsoleOps for UI unit tests only (never proof that a broker path works: the console's
 * integration test drives the real one). Behaves like the port's contract: redrive removes what it
 * sent, purge empties, errors surface as OrderbusError-shaped objects.
 */
export class FakeConsoleOps implements ConsoleOps {
  overviewData: OverviewData;
  dlqMessagesByName: Record<string, DlqMessageView[]>;
  redriven: { dlq: string; message: DlqMessageView; payload: string }[] = [];
  resets: ResetPlanView[] = [];
  failOverview: { code: string; message: string; hint: string } | null = null;
  traces: Record<string, TraceView> = {};

  constructor(data: { groups?: GroupView[]; dlq?: Record<string, DlqMessageView[]> } = {}) {
    this.overviewData = {
      groups: data.groups ?? [],
      queues: [
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
          dlqDepth: Object.values(data.dlq ?? {})[0]?.length ?? 0,
        },
      ],
      components: [
        { name: 'kafka', status: 'up', address: '127.0.0.1:9092' },
        { name: 'rabbitmq', status: 'up', address: '127.0.0.1:5672' },
      ],
    };
    this.dlqMessagesByName = data.dlq ?? {};
  }

  async overview(): Promise<OverviewData> {
    if (this.failOverview) throw Object.assign(new Error(this.failOverview.message), this.failOverview);
    return structuredClone(this.overviewData);
  }

  async planReset(group: string, topic: string, strategy: 'earliest' | 'latest'): Promise<ResetPlanView> {
    const g = this.overviewData.groups.find((x) => x.group === group);
    return {
      group,
      topic,
      strategy,
      rows: (g?.partitions ?? []).map((p) => {
        const target = strategy === 'latest' ? p.end : 0;
        return { partition: p.partition, current: p.committed, target, delta: target - (p.committed ?? 0) };
      }),
    };
  }

  async executeReset(plan: ResetPlanView): Promise<void> {
    this.resets.push(plan);
  }

  async dlqs() {
    return Object.entries(this.dlqMessagesByName).map(([name, msgs]) => ({
      name,
      kind: 'rabbitmq' as const,
      count: msgs.length,
      oldest: null,
      newest: null,
      byClass: msgs.reduce<Record<string, number>>(
        (acc, m) => ({ ...acc, [m.errorClass ?? '?']: (acc[m.errorClass ?? '?'] ?? 0) + 1 }),
        {},
      ),
    }));
  }

  async dlqMessages(dlq: string, limit: number) {
    return (this.dlqMessagesByName[dlq] ?? []).slice(0, limit);
  }

  private select(r: RedriveRequest) {
    const all = this.dlqMessagesByName[r.dlq] ?? [];
    return all.filter((m) => !r.ids || r.ids.includes(m.id));
  }

  private transform(r: RedriveRequest, m: DlqMessageView): string {
    let payload = r.edits?.[m.id] ?? m.payload;
    if (r.fixUrl) payload = payload.split(r.fixUrl.from).join(r.fixUrl.to);
    return payload;
  }

  async planRedrive(r: RedriveRequest) {
    const sel = this.select(r);
    const changed = sel.filter((m) => this.transform(r, m) !== m.payload);
    return {
      toRedrive: sel.length,
      unchanged: sel.length - changed.length,
      invalid: 0,
      diffs: changed.flatMap((m) => {
        const before = JSON.parse(m.payload) as Record<string, unknown>;
        const after = JSON.parse(this.transform(r, m)) as Record<string, unknown>;
        return Object.keys(after)
          .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
          .map((k) => `${m.id}: ${k} ${String(before[k])} → ${String(after[k])}`);
      }),
    };
  }

  async executeRedrive(r: RedriveRequest, onProgress: (done: number, total: number) => void) {
    const sel = this.select(r);
    sel.forEach((m, i) => {
      this.redriven.push({ dlq: r.dlq, message: m, payload: this.transform(r, m) });
      onProgress(i + 1, sel.length);
    });
    this.dlqMessagesByName[r.dlq] = (this.dlqMessagesByName[r.dlq] ?? []).filter((m) => !sel.includes(m));
    return { redriven: sel.length, failed: 0, remaining: this.dlqMessagesByName[r.dlq]?.length ?? 0 };
  }

  async purge(dlq: string) {
    const removed = this.dlqMessagesByName[dlq]?.length ?? 0;
    this.dlqMessagesByName[dlq] = [];
    return { removed };
  }

  async trace(orderId: string): Promise<TraceView> {
    return this.traces[orderId] ?? { orderId, status: null, entries: [] };
  }

  async close(): Promise<void> {}
}

import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { OpsContext } from './context.js';
import { LagMonitor, lagSnapshot } from './lag.js';
import { severity } from './lag-rules.js';
import type { LagReport } from './lag-types.js';
import { listQueues, type QueueInfo } from './queues.js';

/**
 * `orderbus metrics --listen HOST:PORT`: Prometheus exposition (prom-client) of lag, time lag and
 * Burrow-style status per group/partition, queue depths and DLQ sizes. Every scrape takes a fresh
 * snapshot; the status window is built from the scrapes.
 *
 * Label sets are stable: a series is one group, partition or queue, never one of its changing
 * states. The status gauges used to carry a `status` label (and members a `state` label), which
 * started a new series on every change and left the old one stale; they keep their names and
 * values (the status code) without it, and the group state is a fixed set of 0/1 series.
 */

/** Kafka's consumer group states (DescribeGroups); any other reads Unknown, so the set stays fixed. */
export const GROUP_STATES = [
  'Stable',
  'PreparingRebalance',
  'CompletingRebalance',
  'Empty',
  'Dead',
  'Unknown',
] as const;

const DLQ_CURSOR_PREFIX = 'orderbus-dlq.';

/** Non-finite values (a rate the API did not give) read 0, as before prom-client. */
const finite = (v: number): number => (Number.isFinite(v) ? v : 0);

/** The gauges of one scrape, in their own registry: a group or queue gone since is gone from the text. */
export class ScrapeMetrics {
  readonly registry = new Registry();
  private readonly gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [this.registry] });

  readonly groupLag = this.gauge('orderbus_group_lag', 'Total records behind per consumer group', ['group']);
  readonly groupStatus = this.gauge(
    'orderbus_group_status',
    'Burrow-style status (0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 ERR)',
    ['group'],
  );
  readonly groupMembers = this.gauge('orderbus_group_members', 'Members of the consumer group', ['group']);
  readonly groupState = this.gauge(
    'orderbus_group_state',
    `Consumer group state: 1 for the current one of ${GROUP_STATES.join(', ')}`,
    ['group', 'state'],
  );
  readonly partitionLag = this.gauge('orderbus_partition_lag', 'Records behind per partition', [
    'group',
    'topic',
    'partition',
  ]);
  readonly partitionTimeLag = this.gauge(
    'orderbus_partition_time_lag_seconds',
    'Age of the oldest unconsumed record',
    ['group', 'topic', 'partition'],
  );
  readonly partitionStatus = this.gauge(
    'orderbus_partition_status',
    'Burrow-style status per partition (0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 ERR)',
    ['group', 'topic', 'partition'],
  );
  readonly dlqOutstanding = this.gauge(
    'orderbus_kafka_dlq_outstanding',
    'Dead letters not yet redriven or purged, per Kafka DLQ topic',
    ['dlq'],
  );
  readonly queueReady = this.gauge('orderbus_queue_ready', 'Messages ready', ['queue', 'role']);
  readonly queueUnacked = this.gauge('orderbus_queue_unacked', 'Messages delivered, not yet acked', [
    'queue',
    'role',
  ]);
  readonly queueConsumers = this.gauge('orderbus_queue_consumers', 'Consumers', ['queue']);
  readonly queuePublishRate = this.gauge('orderbus_queue_publish_rate', 'Messages published per second', [
    'queue',
  ]);
  readonly up = this.gauge('orderbus_up', '1 when every backend answered the last scrape');

  recordLag(r: LagReport): void {
    for (const g of r.groups) {
      const group = g.group;
      this.groupLag.set({ group }, g.totalLag);
      this.groupStatus.set({ group }, severity(g.status));
      this.groupMembers.set({ group }, g.members);
      const current = (GROUP_STATES as readonly string[]).includes(g.state) ? g.state : 'Unknown';
      for (const state of GROUP_STATES) this.groupState.set({ group, state }, state === current ? 1 : 0);
      for (const p of g.partitions) {
        const labels = { group, topic: p.topic, partition: p.partition };
        if (p.lag !== null) this.partitionLag.set(labels, p.lag);
        if (p.timeLagMs !== null) this.partitionTimeLag.set(labels, p.timeLagMs / 1000);
        this.partitionStatus.set(labels, severity(p.status));
      }
      if (group.startsWith(DLQ_CURSOR_PREFIX))
        this.dlqOutstanding.set({ dlq: group.slice(DLQ_CURSOR_PREFIX.length) }, g.totalLag);
    }
  }

  recordQueues(qs: QueueInfo[]): void {
    for (const q of qs) {
      this.queueReady.set({ queue: q.name, role: q.role }, finite(q.ready));
      this.queueUnacked.set({ queue: q.name, role: q.role }, finite(q.unacked));
      this.queueConsumers.set({ queue: q.name }, finite(q.consumers));
      this.queuePublishRate.set({ queue: q.name }, finite(q.publishRate));
    }
  }

  /** The exposition text; `notes` (why a backend is missing) follow as comment lines. */
  async text(notes: string[] = []): Promise<string> {
    const body = await this.registry.metrics();
    return notes.length ? `${body}${notes.map((n) => `# ${n.replace(/\n/g, ' ')}`).join('\n')}\n` : body;
  }
}

export class MetricsCollector {
  private readonly monitor: LagMonitor;

  constructor(private readonly ctx: OpsContext) {
    this.monitor = new LagMonitor(ctx.config.lag.windowSamples, ctx.config.lag.thresholds);
  }

  async sample(): Promise<void> {
    this.monitor.add(await lagSnapshot(this.ctx, { timeLag: true }));
  }

  async render(): Promise<string> {
    const m = new ScrapeMetrics();
    const notes: string[] = [];
    try {
      await this.sample();
      m.recordLag(this.monitor.evaluate());
    } catch (e) {
      notes.push(`kafka: ${errorMessage(e)}`);
    }
    if (this.ctx.config.components.includes('rabbitmq'))
      try {
        m.recordQueues(await listQueues(this.ctx));
      } catch (e) {
        notes.push(`rabbitmq: ${errorMessage(e)}`);
      }
    m.up.set(notes.length ? 0 : 1);
    return m.text(notes);
  }
}

export interface MetricsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(ctx: OpsContext, host: string, port: number): Promise<MetricsServer> {
  const collector = new MetricsCollector(ctx);
  let busy: Promise<string> | undefined;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    // Concurrent scrapes share one collection.
    busy ??= collector.render().finally(() => (busy = undefined));
    busy.then(
      (text) => res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE }).end(text),
      (e: unknown) => res.writeHead(500).end(errorMessage(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    url: `http://${host}:${actual}/metrics`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

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
 * Burrow-style status per group/partition, queue depths and DLQ sizes, from a sample taken in the
 * background every interval (MetricsCollector); the status window is built from those samples.
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
  readonly up = this.gauge('orderbus_up', '1 when every backend answered the sample served');
  readonly sampleDuration = this.gauge('orderbus_sample_duration_seconds', 'How long the sample served took');

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

/** A rendered sample: the exposition text and when it was taken. */
interface Sample {
  text: string;
  /** When the sample began (ms since the epoch). */
  at: number;
}

/**
 * Samples in the background, every `intervalMs` from the start of one sample to the start of the
 * next (or right after a sample that took longer), as Burrow and kafka-lag-exporter poll: a scrape
 * is served from the last sample at once, however big the cluster, and any number of scrapers
 * (an HA Prometheus pair) cost one sampling. `orderbus_sample_age_seconds` says how old it is.
 */
export class MetricsCollector {
  private readonly monitor: LagMonitor;
  private last: Sample | undefined;
  private first: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly ctx: OpsContext,
    private readonly intervalMs: number,
  ) {
    this.monitor = new LagMonitor(ctx.config.lag.windowSamples, ctx.config.lag.thresholds);
  }

  /** Starts sampling; the first sample begins now. */
  start(): void {
    this.first ??= this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const at = Date.now();
    this.running = this.render()
      .catch((e: unknown) => new ScrapeMetrics().text([`orderbus: ${errorMessage(e)}`]))
      .then((text) => {
        this.last = { text, at };
      });
    await this.running;
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, at + this.intervalMs - Date.now()));
  }

  /** The last sample's text, with its age; waits for the first sample when none is done yet. */
  async scrape(): Promise<string> {
    this.start();
    if (!this.last) await this.first;
    const last = this.last as Sample;
    const age = Math.max(0, Date.now() - last.at) / 1000;
    return `${last.text}${SAMPLE_AGE_HELP}orderbus_sample_age_seconds ${age}\n`;
  }

  /** Stops sampling; a sample in flight is let finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sample: a lag snapshot into the status window, the queues, each backend that failed as a note. */
  async render(): Promise<string> {
    const m = new ScrapeMetrics();
    const notes: string[] = [];
    const started = performance.now();
    try {
      this.monitor.add(await lagSnapshot(this.ctx, { timeLag: true }));
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
    m.sampleDuration.set((performance.now() - started) / 1000);
    return m.text(notes);
  }
}

const SAMPLE_AGE_HELP =
  '# HELP orderbus_sample_age_seconds Seconds since the sample served began (alert when it exceeds a few intervals)\n' +
  '# TYPE orderbus_sample_age_seconds gauge\n';

export interface MetricsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(
  ctx: OpsContext,
  host: string,
  port: number,
  intervalMs: number,
): Promise<MetricsServer> {
  const collector = new MetricsCollector(ctx, intervalMs);
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    collector.scrape().then(
      (text) => res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE }).end(text),
      (e: unknown) => res.writeHead(500).end(errorMessage(e)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  collector.start();
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    url: `http://${host}:${actual}/metrics`,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await collector.stop();
    },
  };
}

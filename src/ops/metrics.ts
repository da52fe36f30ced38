import { createServer, type Server } from 'node:http';
import { errorMessage } from '../errors.js';
import type { OpsContext } from './context.js';
import { LagMonitor, lagSnapshot, type LagStatus } from './lag.js';
import { listQueues } from './queues.js';

/**
 * `orderbus metrics --listen HOST:PORT`: Prometheus text exposition of lag, time lag and
 * Burrow-style status per group/partition, queue depths and DLQ sizes. Every scrape takes a fresh
 * snapshot; the status window is built from the scrapes (and a background sample every few
 * seconds, so statuses exist before the first scrape).
 */
const STATUS_CODE: Record<LagStatus, number> = { OK: 0, WARN: 1, REWIND: 2, STALL: 3, STOP: 4, ERR: 5 };

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string | number>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${esc(String(v))}"`)
    .join(',')}}`;

export class MetricsCollector {
  private readonly monitor: LagMonitor;

  constructor(private readonly ctx: OpsContext) {
    this.monitor = new LagMonitor(ctx.config.lag.windowSamples, ctx.config.lag.thresholds);
  }

  async sample(): Promise<void> {
    this.monitor.add(await lagSnapshot(this.ctx, { timeLag: true }));
  }

  async render(): Promise<string> {
    const out: string[] = [];
    const metric = (
      name: string,
      help: string,
      type: 'gauge' | 'counter',
      rows: [Record<string, string | number>, number][],
    ) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [l, v] of rows) out.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
    };
    let up = 1;
    try {
      await this.sample();
      const r = this.monitor.evaluate();
      metric(
        'orderbus_group_lag',
        'Total records behind per consumer group',
        'gauge',
        r.groups.map((g) => [{ group: g.group }, g.totalLag]),
      );
      metric(
        'orderbus_group_status',
        'Burrow-style status (0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP, 5 ERR)',
        'gauge',
        r.groups.map((g) => [{ group: g.group, status: g.status }, STATUS_CODE[g.status]]),
      );
      metric(
        'orderbus_group_members',
        'Members of the consumer group',
        'gauge',
        r.groups.map((g) => [{ group: g.group, state: g.state }, g.members]),
      );
      const parts = r.groups.flatMap((g) => g.partitions.map((p) => ({ g: g.group, p })));
      metric(
        'orderbus_partition_lag',
        'Records behind per partition',
        'gauge',
        parts
          .filter((x) => x.p.lag !== null)
          .map((x) => [{ group: x.g, topic: x.p.topic, partition: x.p.partition }, x.p.lag as number]),
      );
      metric(
        'orderbus_partition_time_lag_seconds',
        'Age of the oldest unconsumed record',
        'gauge',
        parts
          .filter((x) => x.p.timeLagMs !== null)
          .map((x) => [
            { group: x.g, topic: x.p.topic, partition: x.p.partition },
            (x.p.timeLagMs as number) / 1000,
          ]),
      );
      metric(
        'orderbus_partition_status',
        'Burrow-style status per partition',
        'gauge',
        parts.map((x) => [
          { group: x.g, topic: x.p.topic, partition: x.p.partition, status: x.p.status },
          STATUS_CODE[x.p.status],
        ]),
      );
      const dlqGroups = r.groups.filter((g) => g.group.startsWith('orderbus-dlq.'));
      metric(
        'orderbus_kafka_dlq_outstanding',
        'Dead letters not yet redriven or purged, per Kafka DLQ topic',
        'gauge',
        dlqGroups.map((g) => [{ dlq: g.group.slice('orderbus-dlq.'.length) }, g.totalLag]),
      );
    } catch (e) {
      up = 0;
      out.push(`# kafka: ${errorMessage(e).replace(/\n/g, ' ')}`);
    }
    try {
      const qs = await listQueues(this.ctx);
      metric(
        'orderbus_queue_ready',
        'Messages ready',
        'gauge',
        qs.map((q) => [{ queue: q.name, role: q.role }, q.ready]),
      );
      metric(
        'orderbus_queue_unacked',
        'Messages delivered, not yet acked',
        'gauge',
        qs.map((q) => [{ queue: q.name, role: q.role }, q.unacked]),
      );
      metric(
        'orderbus_queue_consumers',
        'Consumers',
        'gauge',
        qs.map((q) => [{ queue: q.name }, q.consumers]),
      );
      metric(
        'orderbus_queue_publish_rate',
        'Messages published per second',
        'gauge',
        qs.map((q) => [{ queue: q.name }, q.publishRate]),
      );
    } catch (e) {
      up = 0;
      out.push(`# rabbitmq: ${errorMessage(e).replace(/\n/g, ' ')}`);
    }
    metric('orderbus_up', '1 when every backend answered the last scrape', 'gauge', [[{}, up]]);
    return `${out.join('\n')}\n`;
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
      (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
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

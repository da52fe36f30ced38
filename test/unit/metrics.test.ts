import { describe, expect, it } from 'vitest';
import type { GroupLag, LagReport, LagStatus } from '../../src/ops/lag-types.js';
import { ScrapeMetrics } from '../../src/ops/metrics.js';
import type { QueueInfo } from '../../src/ops/queues.js';

const group = (status: LagStatus, state: string): GroupLag => ({
  group: 'orders',
  state,
  members: state === 'Stable' ? 2 : 0,
  totalLag: 40,
  maxTimeLagMs: 1500,
  consumeRate: 10,
  etaSeconds: 4,
  status,
  reasons: [],
  partitions: [0, 1].map((partition) => ({
    topic: 'order-events',
    partition,
    committed: 100,
    logStart: 0,
    logEnd: 120,
    lag: 20,
    timeLagMs: 1500,
    consumeRate: 5,
    etaSeconds: 4,
    owner: null,
    status: partition === 0 ? status : 'OK',
  })),
});

const report = (status: LagStatus, state: string): LagReport => ({
  at: '2026-12-01T10:00:00.000Z',
  windowSeconds: 20,
  samples: 5,
  groups: [group(status, state), { ...group('OK', 'Empty'), group: 'orderbus-dlq.order-events.dlq' }],
});

const queue: QueueInfo = {
  name: 'tasks.webhook',
  vhost: '/',
  type: 'quorum',
  state: 'running',
  role: 'work',
  ready: 3,
  unacked: 1,
  consumers: 2,
  publishRate: Number.NaN,
  deliverRate: 0,
  ackRate: 0,
  dlq: 'tasks.webhook.dlq',
  dlqDepth: 0,
};

async function scrape(r: LagReport): Promise<string> {
  const m = new ScrapeMetrics();
  m.recordLag(r);
  m.recordQueues([queue]);
  m.up.set(1);
  return m.text();
}

/** Sample lines as series (name and labels) → value. */
const series = (text: string): Map<string, string> =>
  new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]),
  );

describe('orderbus metrics', () => {
  it('keeps the same series when a group changes status and state; only values change', async () => {
    const ok = series(await scrape(report('OK', 'Stable')));
    const stalled = series(await scrape(report('STALL', 'PreparingRebalance')));
    expect([...stalled.keys()]).toEqual([...ok.keys()]);
    const changed = [...ok].filter(([k, v]) => stalled.get(k) !== v).map(([k]) => k);
    expect(changed).toEqual([
      'orderbus_group_status{group="orders"}',
      'orderbus_group_members{group="orders"}',
      'orderbus_group_state{group="orders",state="Stable"}',
      'orderbus_group_state{group="orders",state="PreparingRebalance"}',
      'orderbus_partition_status{group="orders",topic="order-events",partition="0"}',
    ]);
    expect(stalled.get('orderbus_group_status{group="orders"}')).toBe('3');
    expect(ok.get('orderbus_group_status{group="orders"}')).toBe('0');
  });

  it('writes every status code, one 0/1 series per group state, and the figures of groups, partitions, DLQs and queues', async () => {
    const text = await scrape(report('STOP', 'Rebalancing in a way Kafka has not named yet'));
    const s = series(text);
    expect(s.get('orderbus_group_status{group="orders"}')).toBe('4');
    expect(
      [...s].filter(([k, v]) => k.startsWith('orderbus_group_state{group="orders"') && v === '1'),
    ).toEqual([['orderbus_group_state{group="orders",state="Unknown"}', '1']]);
    expect(s.get('orderbus_group_lag{group="orders"}')).toBe('40');
    expect(s.get('orderbus_partition_lag{group="orders",topic="order-events",partition="1"}')).toBe('20');
    expect(
      s.get('orderbus_partition_time_lag_seconds{group="orders",topic="order-events",partition="1"}'),
    ).toBe('1.5');
    expect(s.get('orderbus_kafka_dlq_outstanding{dlq="order-events.dlq"}')).toBe('40');
    expect(s.get('orderbus_queue_ready{queue="tasks.webhook",role="work"}')).toBe('3');
    expect(s.get('orderbus_queue_publish_rate{queue="tasks.webhook"}')).toBe('0');
    expect(s.get('orderbus_up')).toBe('1');
    expect(text).toContain('# TYPE orderbus_group_lag gauge');
  });

  it('drops a group gone since the last scrape and names a missing backend in a comment', async () => {
    const m = new ScrapeMetrics();
    m.up.set(0);
    const text = await m.text(['kafka: connection refused\nat 127.0.0.1:1']);
    expect(series(text)).toEqual(
      new Map([
        ['orderbus_up', '0'],
        ['orderbus_sample_duration_seconds', '0'],
      ]),
    );
    expect(text).toContain('# kafka: connection refused at 127.0.0.1:1\n');
  });
});

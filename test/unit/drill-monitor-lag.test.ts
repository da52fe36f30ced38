import { describe, expect, it } from 'vitest';
import { groupLag, isQuiet } from '../../src/devstack/chaos/monitor.js';

const marks = [0, 1, 2, 3].map((partition) => ({ partition, low: '0', high: String(10 + partition) }));
const part = (partition: number, lag: number | null) => ({
  topic: 'ns.order.events',
  partition,
  lag,
  logStart: 0,
  logEnd: 10 + partition,
});

describe('a drill group’s lag (what "settled" waits on)', () => {
  it('counts partitions the group reports: committed ones by their lag, uncommitted ones whole', () => {
    expect(groupLag([part(0, 0), part(1, 2), part(2, null), part(3, 0)], 'ns.order.events', marks)).toBe(14);
  });

  it('counts whole a partition the group does not report at all (rebalancing, nothing committed there)', () => {
    // payment-timeout in CI: the payment member was dropped mid-batch and had committed nothing;
    // its report named no partitions, its lag read 0, the drill "settled" with 54 orders unpaid.
    expect(groupLag([], 'ns.order.events', marks)).toBe(10 + 11 + 12 + 13);
    expect(groupLag([part(0, 0)], 'ns.order.events', marks)).toBe(11 + 12 + 13);
    const lag = { payment: groupLag([], 'ns.order.events', marks) };
    expect(isQuiet({ at: 0, errors: [], lag, queues: {}, outboxUnsent: 0, shipmentsPending: 0 })).toBe(false);
  });

  it('is 0 when every partition is consumed, empty partitions included', () => {
    const empty = [...marks, { partition: 4, low: '7', high: '7' }];
    expect(groupLag([part(0, 0), part(1, 0), part(2, 0), part(3, 0)], 'ns.order.events', empty)).toBe(0);
  });
});

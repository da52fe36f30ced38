import { describe, expect, it } from 'vitest';
import type { LagThresholds } from '../../src/config.js';
import { probeKey } from '../../src/adapters/kafka-fetch.js';
import { LagMonitor } from '../../src/ops/lag-monitor.js';
import { evaluatePartition, type PartitionWindow } from '../../src/ops/lag-rules.js';
import type { LagSnapshot, LagStatus } from '../../src/ops/lag-types.js';

/**
 * Window → expected status, the way Burrow's caching_test.go lists its evaluator cases. A window
 * is `[ms, committed, logEnd]` per sample, oldest first, for partition t/0.
 */
type Sample = [at: number, committed: number | null, logEnd: number];

const owner = { memberId: 'm', clientId: 'c', host: 'h' };

const partitionWindow = (samples: Sample[], owned: boolean): PartitionWindow =>
  samples.map(([at, committed, logEnd]) => ({
    at,
    p: { topic: 't', partition: 0, committed, logStart: 0, logEnd, owner: owned ? owner : null },
  }));

describe('partition rules', () => {
  const rows: { name: string; owned: boolean; window: Sample[]; status: LagStatus; reason?: string }[] = [
    { name: 'one sample says nothing', owned: false, window: [[0, 100, 150]], status: 'OK' },
    {
      name: 'two samples at the same time say nothing',
      owned: false,
      window: [
        [0, 100, 150],
        [0, 100, 150],
      ],
      status: 'OK',
    },
    {
      name: 'consuming and keeping up',
      owned: true,
      window: [
        [0, 100, 110],
        [2000, 140, 150],
      ],
      status: 'OK',
    },
    {
      name: 'lag rising in every interval',
      owned: true,
      window: [
        [0, 100, 110],
        [1000, 105, 130],
        [2000, 110, 150],
      ],
      status: 'WARN',
      reason: 't/0: lag rising (10 → 40)',
    },
    {
      name: 'lag rising or holding, ending higher',
      owned: true,
      window: [
        [0, 100, 110],
        [1000, 110, 120],
        [2000, 110, 130],
      ],
      status: 'WARN',
      reason: 't/0: lag rising (10 → 20)',
    },
    {
      name: 'lag that fell once is not rising',
      owned: true,
      window: [
        [0, 100, 110],
        [1000, 120, 125],
        [2000, 130, 150],
      ],
      status: 'OK',
    },
    {
      name: 'lag that ends where it began is not rising',
      owned: true,
      window: [
        [0, 100, 110],
        [1000, 110, 120],
      ],
      status: 'OK',
    },
    {
      name: 'no commit in one sample: no trend',
      owned: true,
      window: [
        [0, null, 110],
        [1000, 105, 130],
        [2000, 110, 150],
      ],
      status: 'OK',
    },
    {
      name: 'nothing ever committed',
      owned: false,
      window: [
        [0, null, 110],
        [1000, null, 150],
      ],
      status: 'OK',
    },
    {
      name: 'unowned, lagging, not moving',
      owned: false,
      window: [
        [0, 100, 150],
        [1000, 100, 150],
      ],
      status: 'STOP',
      reason: 't/0: no consumer and no progress with lag 50',
    },
    {
      name: 'unowned and not moving, but caught up',
      owned: false,
      window: [
        [0, 150, 150],
        [1000, 150, 150],
      ],
      status: 'OK',
    },
    {
      name: 'owned, lagging, not moving for a short window',
      owned: true,
      window: [
        [0, 100, 150],
        [3000, 100, 150],
      ],
      status: 'OK',
    },
    {
      name: 'owned, not moving for a short window while lag rises',
      owned: true,
      window: [
        [0, 100, 150],
        [3000, 100, 160],
      ],
      status: 'WARN',
      reason: 't/0: lag rising (50 → 60)',
    },
    {
      name: 'owned, lagging, not moving for exactly STALL_MIN_WINDOW_MS',
      owned: true,
      window: [
        [0, 100, 150],
        [10_000, 100, 150],
      ],
      status: 'STALL',
      reason: 't/0: owned by c but no progress over 10s with lag 50',
    },
    {
      name: 'owned, lagging, not moving for 12 s while lag rises',
      owned: true,
      window: [
        [0, 100, 150],
        [6000, 100, 155],
        [12_000, 100, 160],
      ],
      status: 'STALL',
      reason: 't/0: owned by c but no progress over 12s with lag 60',
    },
    {
      name: 'committed offset went backwards',
      owned: true,
      window: [
        [0, 100, 150],
        [1000, 20, 150],
      ],
      status: 'REWIND',
      reason: 't/0: committed offset went backwards',
    },
    {
      name: 'a rewind wins over a stop that ends where it began',
      owned: false,
      window: [
        [0, 100, 150],
        [1000, 20, 150],
        [2000, 100, 150],
      ],
      status: 'REWIND',
      reason: 't/0: committed offset went backwards',
    },
    {
      name: 'a commit lost in between is no rewind',
      owned: true,
      window: [
        [0, 100, 150],
        [1000, null, 150],
        [2000, 20, 150],
      ],
      status: 'OK',
    },
  ];

  it.each(rows)('$name → $status', ({ owned, window, status, reason }) => {
    const f = evaluatePartition(partitionWindow(window, owned));
    expect(f?.status ?? 'OK').toBe(status);
    expect(f?.reason).toBe(reason);
  });
});

describe('group status over the window', () => {
  const snap = (
    [at, committed, logEnd]: Sample,
    owned: boolean,
    state = owned ? 'Stable' : 'Empty',
    oldestRecordAt?: number,
  ): LagSnapshot => ({
    at,
    recordTimestamps: new Map(
      oldestRecordAt === undefined
        ? []
        : [[probeKey({ topic: 't', partition: 0, offset: committed ?? 0 }), oldestRecordAt]],
    ),
    groups: [
      {
        group: 'g',
        state,
        members: owned ? 1 : 0,
        partitions: [
          { topic: 't', partition: 0, committed, logStart: 0, logEnd, owner: owned ? owner : null },
        ],
      },
    ],
  });
  const evaluate = (snaps: LagSnapshot[], thresholds: Record<string, LagThresholds> = {}) => {
    const m = new LagMonitor(10, thresholds);
    for (const s of snaps) m.add(s);
    return m.evaluate().groups[0];
  };

  const rows: {
    name: string;
    snaps: LagSnapshot[];
    thresholds?: Record<string, LagThresholds>;
    status: LagStatus;
    reasons: string[];
  }[] = [
    { name: 'lag under every threshold', snaps: [snap([0, 100, 150], true)], status: 'OK', reasons: [] },
    {
      name: 'dead group',
      snaps: [snap([0, null, 150], false, 'Dead')],
      status: 'ERR',
      reasons: ['group is dead (no members, no offsets)'],
    },
    {
      name: 'warnLag on a single sample',
      snaps: [snap([0, 100, 150], true)],
      thresholds: { g: { warnLag: 10 } },
      status: 'WARN',
      reasons: ['lag 50 > warnLag 10'],
    },
    {
      name: 'errLag is reported instead of warnLag',
      snaps: [snap([0, 100, 150], true)],
      thresholds: { g: { warnLag: 10, errLag: 40 } },
      status: 'ERR',
      reasons: ['lag 50 > errLag 40'],
    },
    {
      name: "the '*' thresholds apply to a group without its own",
      snaps: [snap([0, 100, 150], true)],
      thresholds: { '*': { warnLag: 10 }, other: { errLag: 1 } },
      status: 'WARN',
      reasons: ['lag 50 > warnLag 10'],
    },
    {
      name: "a group's own thresholds replace '*'",
      snaps: [snap([0, 100, 150], true)],
      thresholds: { '*': { errLag: 1 }, g: { warnLag: 100 } },
      status: 'OK',
      reasons: [],
    },
    {
      name: 'warnTimeLagMs',
      snaps: [snap([100_000, 100, 150], true, 'Stable', 40_000)],
      thresholds: { g: { warnTimeLagMs: 30_000, errTimeLagMs: 90_000 } },
      status: 'WARN',
      reasons: ['time lag 60000 ms > warnTimeLagMs 30000'],
    },
    {
      name: 'errTimeLagMs and warnLag together',
      snaps: [snap([100_000, 100, 150], true, 'Stable', 0)],
      thresholds: { g: { warnLag: 10, errTimeLagMs: 90_000 } },
      status: 'ERR',
      reasons: ['lag 50 > warnLag 10', 'time lag 100000 ms > errTimeLagMs 90000'],
    },
    {
      name: 'an unknown time lag crosses no time threshold',
      snaps: [snap([100_000, 100, 150], true)],
      thresholds: { g: { warnTimeLagMs: 1 } },
      status: 'OK',
      reasons: [],
    },
    {
      name: "the worst wins: a partition's STOP over warnLag, its reason first",
      snaps: [snap([0, 100, 150], false), snap([1000, 100, 150], false)],
      thresholds: { g: { warnLag: 10 } },
      status: 'STOP',
      reasons: ['t/0: no consumer and no progress with lag 50', 'lag 50 > warnLag 10'],
    },
  ];

  it.each(rows)('$name → $status', ({ snaps, thresholds, status, reasons }) => {
    const g = evaluate(snaps, thresholds);
    expect(g?.status).toBe(status);
    expect(g?.reasons).toEqual(reasons);
  });

  it('rate and ETA come from the window; the partition carries its own status', () => {
    const g = evaluate([snap([0, 100, 110], true), snap([2000, 140, 150], true)]);
    expect(g?.consumeRate).toBe(20);
    expect(g?.etaSeconds).toBe(0.5);
    expect(g?.partitions[0]).toMatchObject({ lag: 10, consumeRate: 20, etaSeconds: 0.5, status: 'OK' });
    const stopped = evaluate([snap([0, 100, 150], false), snap([1000, 100, 150], false)]);
    expect(stopped?.partitions[0]).toMatchObject({ status: 'STOP', consumeRate: 0, etaSeconds: null });
  });

  it('time lag is 0 when caught up and the age of the oldest unconsumed record otherwise', () => {
    expect(evaluate([snap([5000, 150, 150], true)])?.maxTimeLagMs).toBe(0);
    expect(evaluate([snap([5000, 100, 150], true, 'Stable', 1000)])?.maxTimeLagMs).toBe(4000);
    expect(evaluate([snap([5000, 100, 150], true)])?.maxTimeLagMs).toBeNull();
  });
});

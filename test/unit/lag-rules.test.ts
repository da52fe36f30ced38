import { describe, expect, it } from 'vitest';
import type { LagThresholds } from '../../src/config.js';
import { probeKey } from '../../src/adapters/kafka-fetch.js';
import { LagMonitor } from '../../src/ops/lag-monitor.js';
import { evaluatePartition, type PartitionWindow } from '../../src/ops/lag-rules.js';
import type { LagSnapshot } from '../../src/ops/lag-types.js';

/**
 * Window → expected status and reasons, one case a line, the way Burrow's caching_test.go lists
 * its evaluator cases. Columns are split on `|`. A window is partition t/0 sampled oldest first,
 * `MS COMMITTED/LOG-END` per sample (`-` for no committed offset), optionally `@MS`: the timestamp
 * of the oldest unconsumed record. The owner is a member with client id `c`, or `-` for none.
 */
interface Sample {
  at: number;
  committed: number | null;
  logEnd: number;
  oldestRecordAt?: number;
}

function table(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => l.split('|').map((c) => c.trim()));
}

function samples(window: string): Sample[] {
  return window.split(',').map((s) => {
    const [at, offsets, ts] = s.trim().split(/\s+/);
    const [committed, logEnd] = (offsets ?? '').split('/');
    return {
      at: Number(at),
      committed: committed === '-' ? null : Number(committed),
      logEnd: Number(logEnd),
      ...(ts ? { oldestRecordAt: Number(ts.slice(1)) } : {}),
    };
  });
}

const ownerOf = (cell: string | undefined) =>
  cell === '-' ? null : { memberId: 'm', clientId: cell ?? '', host: 'h' };

const partition = (s: Sample, owner: string | undefined) => ({
  topic: 't',
  partition: 0,
  committed: s.committed,
  logStart: 0,
  logEnd: s.logEnd,
  owner: ownerOf(owner),
});

describe('partition rules', () => {
  // name                                                    | owner | window                                 | status | reason
  const rows = table(`
    one sample says nothing                                  | -     | 0 100/150                              | OK     |
    two samples at the same time say nothing                 | -     | 0 100/150, 0 100/150                   | OK     |
    consuming and keeping up                                 | c     | 0 100/110, 2000 140/150                | OK     |
    lag rising in every interval                             | c     | 0 100/110, 1000 105/130, 2000 110/150  | WARN   | t/0: lag rising (10 → 40)
    lag rising or holding, ending higher                     | c     | 0 100/110, 1000 110/120, 2000 110/130  | WARN   | t/0: lag rising (10 → 20)
    lag that fell once is not rising                         | c     | 0 100/110, 1000 120/125, 2000 130/150  | OK     |
    lag that ends where it began is not rising               | c     | 0 100/110, 1000 110/120                | OK     |
    no commit in one sample: no trend                        | c     | 0 -/110, 1000 105/130, 2000 110/150    | OK     |
    nothing ever committed                                   | -     | 0 -/110, 1000 -/150                    | OK     |
    unowned, lagging, not moving                             | -     | 0 100/150, 1000 100/150                | STOP   | t/0: no consumer and no progress with lag 50
    unowned and not moving, but caught up                    | -     | 0 150/150, 1000 150/150                | OK     |
    owned, lagging, not moving for a short window            | c     | 0 100/150, 3000 100/150                | OK     |
    owned, not moving for a short window while lag rises     | c     | 0 100/150, 3000 100/160                | WARN   | t/0: lag rising (50 → 60)
    owned, not moving for exactly STALL_MIN_WINDOW_MS        | c     | 0 100/150, 10000 100/150               | STALL  | t/0: owned by c but no progress over 10s with lag 50
    owned, not moving for 12 s while lag rises               | c     | 0 100/150, 6000 100/155, 12000 100/160 | STALL  | t/0: owned by c but no progress over 12s with lag 60
    committed offset went backwards                          | c     | 0 100/150, 1000 20/150                 | REWIND | t/0: committed offset went backwards
    a rewind wins over a stop that ends where it began       | -     | 0 100/150, 1000 20/150, 2000 100/150   | REWIND | t/0: committed offset went backwards
    a commit lost in between is no rewind                    | c     | 0 100/150, 1000 -/150, 2000 20/150     | OK     |
    lag rising 0 → 1 → 2 is within the allowed lag           | c     | 0 100/100, 1000 110/111, 2000 120/122  | OK     |
    lag rising to exactly MIN_WARN_LAG is still allowed      | c     | 0 100/100, 1000 110/115, 2000 120/130  | OK     |
    lag rising one past MIN_WARN_LAG                         | c     | 0 100/100, 1000 110/115, 2000 120/131  | WARN   | t/0: lag rising (0 → 11)
  `);

  const cases = rows.map(([name, owner, window, status, reason]) => ({
    name,
    owner,
    window,
    status,
    reason,
  }));
  it.each(cases)('$name → $status', ({ owner, window, status, reason }) => {
    const w: PartitionWindow = samples(window ?? '').map((s) => ({ at: s.at, p: partition(s, owner) }));
    const f = evaluatePartition(w);
    expect(f?.status ?? 'OK').toBe(status);
    expect(f?.reason ?? '').toBe(reason);
  });

  it('takes the allowed lag as a setting: minWarnLag 0 warns on any rise', () => {
    const w: PartitionWindow = samples('0 100/100, 1000 110/111, 2000 120/122').map((s) => ({
      at: s.at,
      p: partition(s, 'c'),
    }));
    expect(evaluatePartition(w, { minWarnLag: 0 })?.reason).toBe('t/0: lag rising (0 → 2)');
  });
});

describe('group status over the window', () => {
  const snapshot = (s: Sample, owner: string | undefined, state: string): LagSnapshot => ({
    at: s.at,
    recordTimestamps: new Map(
      s.oldestRecordAt === undefined
        ? []
        : [[probeKey({ topic: 't', partition: 0, offset: s.committed ?? 0 }), s.oldestRecordAt]],
    ),
    groups: [
      {
        group: 'g',
        state,
        members: owner === '-' ? 0 : 1,
        partitions: [partition(s, owner)],
      },
    ],
  });
  const evaluate = (
    window: string,
    owner = 'c',
    state = 'Stable',
    thresholds: Record<string, LagThresholds> = {},
  ) => {
    const m = new LagMonitor(10, thresholds);
    for (const s of samples(window)) m.add(snapshot(s, owner, state));
    return m.evaluate().groups[0];
  };

  // Thresholds as JSON; reasons joined by `;`.
  // name                                      | owner | state  | window                      | thresholds                                   | status | reasons
  const rows = table(`
    lag under every threshold                  | c     | Stable | 0 100/150                   | {}                                           | OK     |
    dead group                                 | -     | Dead   | 0 -/150                     | {}                                           | ERR    | group is dead (no members, no offsets)
    warnLag on a single sample                 | c     | Stable | 0 100/150                   | {"g":{"warnLag":10}}                         | WARN   | lag 50 > warnLag 10
    errLag is reported instead of warnLag      | c     | Stable | 0 100/150                   | {"g":{"warnLag":10,"errLag":40}}             | ERR    | lag 50 > errLag 40
    the '*' thresholds apply to other groups   | c     | Stable | 0 100/150                   | {"*":{"warnLag":10},"other":{"errLag":1}}    | WARN   | lag 50 > warnLag 10
    a group's own thresholds replace '*'       | c     | Stable | 0 100/150                   | {"*":{"errLag":1},"g":{"warnLag":100}}       | OK     |
    warnTimeLagMs                              | c     | Stable | 100000 100/150 @40000       | {"g":{"warnTimeLagMs":30000,"errTimeLagMs":90000}} | WARN | time lag 60000 ms > warnTimeLagMs 30000
    errTimeLagMs and warnLag together          | c     | Stable | 100000 100/150 @0           | {"g":{"warnLag":10,"errTimeLagMs":90000}}    | ERR    | lag 50 > warnLag 10; time lag 100000 ms > errTimeLagMs 90000
    an unknown time lag crosses no threshold   | c     | Stable | 100000 100/150              | {"g":{"warnTimeLagMs":1}}                    | OK     |
    the worst wins, partition reasons first    | -     | Empty  | 0 100/150, 1000 100/150     | {"g":{"warnLag":10}}                         | STOP   | t/0: no consumer and no progress with lag 50; lag 50 > warnLag 10
  `);

  const cases = rows.map(([name, owner, state, window, thresholds, status, reasons]) => ({
    name,
    owner,
    state,
    window,
    thresholds,
    status,
    reasons,
  }));
  it.each(cases)('$name → $status', ({ owner, state, window, thresholds, status, reasons }) => {
    const g = evaluate(
      window ?? '',
      owner,
      state,
      JSON.parse(thresholds ?? '{}') as Record<string, LagThresholds>,
    );
    expect(g?.status).toBe(status);
    expect(g?.reasons).toEqual(reasons ? reasons.split('; ') : []);
  });

  it('the window slides: an evicted snapshot leaves every partition, a partition gone comes back fresh', () => {
    const m = new LagMonitor(2);
    const at = (ms: number, committed: number, partitions: number[]): LagSnapshot => ({
      ...snapshot({ at: ms, committed, logEnd: 200 }, 'c', 'Stable'),
      groups: [
        {
          group: 'g',
          state: 'Stable',
          members: 1,
          partitions: partitions.map((n) => ({
            ...partition({ at: ms, committed, logEnd: 200 }, 'c'),
            partition: n,
          })),
        },
      ],
    });
    m.add(at(0, 0, [0, 1]));
    m.add(at(1000, 100, [0, 1]));
    m.add(at(2000, 110, [0])); // partition 1 left the group; the first snapshot left the window
    let g = m.evaluate().groups[0];
    expect(g?.partitions.map((p) => [p.partition, p.consumeRate])).toEqual([[0, 10]]);
    m.add(at(3000, 130, [0, 1])); // partition 1 again: its only sample in the window is this one
    g = m.evaluate().groups[0];
    expect(g?.partitions.map((p) => [p.partition, p.consumeRate])).toEqual([
      [0, 20],
      [1, null],
    ]);
    expect(m.samples).toBe(2);
  });

  it('rate and ETA come from the window; the partition carries its own status', () => {
    const g = evaluate('0 100/110, 2000 140/150');
    expect(g?.consumeRate).toBe(20);
    expect(g?.etaSeconds).toBe(0.5);
    expect(g?.partitions[0]).toMatchObject({ lag: 10, consumeRate: 20, etaSeconds: 0.5, status: 'OK' });
    const stopped = evaluate('0 100/150, 1000 100/150', '-', 'Empty');
    expect(stopped?.partitions[0]).toMatchObject({ status: 'STOP', consumeRate: 0, etaSeconds: null });
  });

  it('time lag is 0 when caught up and the age of the oldest unconsumed record otherwise', () => {
    expect(evaluate('5000 150/150')?.maxTimeLagMs).toBe(0);
    expect(evaluate('5000 100/150 @1000')?.maxTimeLagMs).toBe(4000);
    expect(evaluate('5000 100/150')?.maxTimeLagMs).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { browseRuns } from '../../src/ops/dlq/kafka-engine.js';

const range = (partition: number, from: number, until: number) => ({
  partition,
  from,
  until,
  handled: new Set<number>(),
});

describe('browseRuns: what a Kafka DLQ browse reads', () => {
  it('reads the outstanding ranges whole unless told to spread, and skips empty ones', () => {
    const ranges = [range(0, 10, 1_000_000), range(1, 5, 5)];
    expect(browseRuns(ranges, 20, false)).toEqual([ranges[0]]);
  });

  it('spreads a cap over a deep DLQ: evenly spaced runs, first and last letters of each partition among them', () => {
    const runs = browseRuns([range(0, 0, 600_000), range(1, 100, 300_100)], 3000, true);
    const size = runs.reduce((s, r) => s + r.until - r.from, 0);
    expect(size).toBeLessThanOrEqual(3000);
    expect(size).toBeGreaterThan(2900);
    for (const [p, from, until] of [
      [0, 0, 600_000],
      [1, 100, 300_100],
    ] as const) {
      const mine = runs.filter((r) => r.partition === p);
      expect(mine[0]?.from).toBe(from);
      expect(mine.at(-1)?.until).toBe(until);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.from).toBeGreaterThanOrEqual(mine[i - 1]!.until);
    }
    // The partition twice as deep gets twice the share.
    const share = (p: number) =>
      runs.filter((r) => r.partition === p).reduce((s, r) => s + r.until - r.from, 0);
    expect(share(0)).toBeCloseTo(2 * share(1), -2);
  });

  it('reads a DLQ no deeper than the cap whole, even when told to spread', () => {
    const ranges = [range(0, 0, 800), range(1, 0, 900)];
    expect(browseRuns(ranges, 5000, true)).toEqual(ranges);
  });
});

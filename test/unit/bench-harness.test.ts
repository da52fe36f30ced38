import { describe, expect, it } from 'vitest';
import { fmt, percentile, summarize, type Sample } from '../bench/harness.js';

const sample = (value: number, ref: number, extra: Partial<Sample> = {}): Sample => ({
  metric: 'm',
  value,
  unit: 'ms',
  better: 'lower',
  reference: { name: 'r', value: ref },
  command: 'npm run bench -- m',
  ...extra,
});

describe('benchmark figures', () => {
  it('medians with min and max; the ratio says how ours compares (≥ 1 is as good)', () => {
    const [f] = summarize([[sample(10, 5)], [sample(30, 5)], [sample(20, 5)]]);
    expect(f).toMatchObject({ median: 20, min: 10, max: 30, runs: 3, reference: { median: 5 } });
    expect(f?.ratio).toBe(0.25);
    const [t] = summarize([[sample(300, 600, { better: 'higher', unit: 'orders/s' })]]);
    expect(t?.ratio).toBe(0.5);
  });

  it('compares values below the resolution as the resolution itself, and prints them as "< resolution"', () => {
    const [f] = summarize([[sample(1, 0, { resolution: 1 })], [sample(1, 0, { resolution: 1 })]]);
    expect(f?.ratio).toBe(1);
    expect(fmt(f?.reference?.median ?? NaN, f?.resolution)).toBe('< 1.0');
    expect(fmt(12, 1)).toBe('12.0');
    // Without a resolution a zero reference is what it is.
    expect(summarize([[sample(2, 0)]])[0]?.ratio).toBe(0);
  });

  it('percentiles take the nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([], 99)).toBe(0);
  });
});

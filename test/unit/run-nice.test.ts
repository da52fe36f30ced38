import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { OrderbusError } from '../../src/errors.js';
import { lowerPriority } from '../../src/runtime/runner.js';

describe('orderbus run --nice (lowerPriority)', () => {
  it('refuses a value outside 0-19 or not whole, with a usage error naming the flag', () => {
    for (const bad of [-1, 20, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        lowerPriority(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OrderbusError);
      expect((err as OrderbusError).code).toBe('BAD_NICE');
      expect((err as OrderbusError).hint).toContain('orderbus run --nice');
    }
  });

  it('sets every thread of the process (here to the value it has, so the test run keeps its priority)', () => {
    const now = getPriority();
    lowerPriority(now);
    expect(getPriority()).toBe(now);
  });
});

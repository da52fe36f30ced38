import { describe, expect, it } from 'vitest';
import { decodeHandled, encodeHandled, toRanges } from '../../src/ops/dlq/kafka-cursor.js';

describe('Kafka DLQ cursor metadata', () => {
  it('round-trips the redriven offsets past the cursor as ranges, within the broker metadata limit', () => {
    const set = new Set([105, 106, 107, 110, 200, 201]);
    const text = encodeHandled(set);
    expect(text).toBe('orderbus-dlq/1 handled=105-107,110,200-201');
    expect(decodeHandled(text)).toEqual(set);
    expect(encodeHandled([])).toBeNull();
    expect(decodeHandled(null).size).toBe(0);
    expect(decodeHandled('written by another tool').size).toBe(0);
    const many = encodeHandled(Array.from({ length: 5000 }, (_, i) => i * 2)) ?? '';
    expect(many.length).toBeLessThanOrEqual(3800);
  });
});

describe('Kafka DLQ cursor ranges', () => {
  it('keeps non-contiguous handled offsets as sorted inclusive ranges', () => {
    expect(toRanges([115, 105, 106, 107, 110, 111, 3])).toEqual([
      [3, 3],
      [105, 107],
      [110, 111],
      [115, 115],
    ]);
    expect(toRanges([])).toEqual([]);
  });
});

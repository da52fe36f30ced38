import { describe, expect, it } from 'vitest';
import { parseDuration, parseZonedDatetime } from '../../src/ops/offsets.js';
import { byteChunks } from '../../src/ops/replay.js';

describe('offsets reset parsing', () => {
  it('refuses zoneless datetimes and accepts Z or an offset', () => {
    expect(() => parseZonedDatetime('2026-11-23T10:00:00')).toThrow(/no time zone/);
    expect(parseZonedDatetime('2026-11-23T10:00:00+01:00').toISOString()).toBe('2026-11-23T09:00:00.000Z');
  });

  it('parses ISO 8601 durations like Kafka --by-duration', () => {
    expect(parseDuration('P1DT2H3M')).toBe(((24 + 2) * 60 + 3) * 60000);
    expect(parseDuration('PT30M')).toBe(30 * 60000);
    expect(() => parseDuration('30m')).toThrow(/ISO 8601 duration/);
    expect(() => parseDuration('PT')).toThrow();
  });
});

describe('replay produce chunks', () => {
  it('cuts sends below the byte limit, keeps order, and never leaves a chunk empty', () => {
    const m = (i: number, size: number) => ({
      key: Buffer.from(String(i)),
      value: Buffer.alloc(size),
      timestamp: 0,
      headers: [],
    });
    const msgs = [m(0, 400), m(1, 400), m(2, 400), m(3, 5000), m(4, 10)];
    const chunks = byteChunks(msgs, 1000);
    expect(chunks.map((c) => c.map((x) => String(x.key)))).toEqual([['0', '1'], ['2'], ['3'], ['4']]);
    expect(chunks.flat()).toEqual(msgs);
    expect(byteChunks([], 1000)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { byteChunks } from '../../src/ops/replay.js';

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

import { describe, expect, it } from 'vitest';
import { SharedClient } from '../../src/adapters/kafka.js';
import { mapLimit } from '../../src/map-limit.js';

/** A client that counts its disconnects. */
class Client {
  disconnects = 0;
  constructor(readonly n: number) {}
  async disconnect(): Promise<void> {
    this.disconnects++;
  }
}

describe('SharedClient.replace: the one place a shared client is swapped', () => {
  it('callers failing at once on the same client swap it once, and all get the same new one', async () => {
    let opened = 0;
    const shared = new SharedClient(async () => new Client(++opened));
    const first = await shared.get();
    await Promise.all([shared.replace(first), shared.replace(first), shared.replace(first)]);
    const after = await Promise.all([shared.get(), shared.get()]);
    expect(first.disconnects).toBe(1);
    expect(after.map((c) => c.n)).toEqual([2, 2]);
    // A caller whose failure was on the old client does not close the new one.
    await shared.replace(first);
    expect((await shared.get()).n).toBe(2);
    expect(after[0]?.disconnects).toBe(0);
  });
});

describe('mapLimit', () => {
  it('runs at most `limit` at once and keeps the items order', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('after a failure starts nothing more, and throws the first failure once the ones in flight settled', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 0 ? 5 : 30));
      settled.push(i);
      if (i === 0) throw new Error('first');
      if (i === 1) throw new Error('second');
      return i;
    });
    await expect(run).rejects.toThrow('first');
    // 0 failed while 1 was in flight: 1 settled before the rejection, 2… were never started.
    expect(started).toEqual([0, 1]);
    expect(settled).toEqual([0, 1]);
  });
});

import { describe, expect, it, vi } from 'vitest';
import type { EventEnvelope } from '../../src/events/types.js';
import { forEachOrder, Limiter } from '../../src/pipeline/for-each-order.js';
import { GroupCommit } from '../../src/pipeline/group-commit.js';
import { withDriverCode } from '../../src/adapters/postgres.js';
import { distinctEvents, isTransientDbError } from '../../src/pipeline/outbox.js';

const ev = (orderId: string, eventId: string): EventEnvelope =>
  ({ eventId, orderId, type: 'order.placed' }) as unknown as EventEnvelope;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('batch handling helpers', () => {
  it('GroupCommit writes the items added during a write together, and a bad item fails alone', async () => {
    const writes: number[][] = [];
    const group = new GroupCommit<number>(
      async (items) => {
        writes.push(items);
        await tick(10);
        if (items.includes(13)) throw new Error('bad item 13');
      },
      { maxBatch: 3 },
    );
    const first = group.add(1);
    const rest = [2, 3, 4, 13, 5].map((n) => group.add(n));
    await first;
    const settled = await Promise.allSettled(rest);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((settled[3] as PromiseRejectedResult).reason).toEqual(new Error('bad item 13'));
    // 1 alone (nothing queued yet), then at most 3 at a time; the batch with 13 again one by one.
    expect(writes).toEqual([[1], [2, 3, 4], [13, 5], [13], [5]]);
    await group.idle();
    await group.add(6);
    expect(writes.at(-1)).toEqual([6]);
  });

  it('GroupCommit answers a refused item at once, without holding it until its group is written', async () => {
    const gates: (() => void)[] = [];
    const writes: string[][] = [];
    const group = new GroupCommit<string, number>(
      async (items) => {
        writes.push(items);
        await new Promise<void>((r) => gates.push(r));
        return items.map((i) => i.length);
      },
      {
        concurrency: 1,
        refuse: (i) => (i.startsWith('late') ? new Error(`${i}: waited too long`) : undefined),
      },
    );
    const first = group.add('a');
    const late = group.add('late-b');
    const next = group.add('cc');
    let lateAnswered = false;
    late.catch(() => (lateAnswered = true));
    gates.shift()?.();
    expect(await first).toBe(1);
    // The next group is being written (its gate still closed) and the refused item has its answer.
    await vi.waitFor(() => expect(writes).toEqual([['a'], ['cc']]));
    await expect(late).rejects.toThrow('late-b: waited too long');
    expect(lateAnswered).toBe(true);
    gates.shift()?.();
    expect(await next).toBe(2);
  });

  it('GroupCommit runs up to `concurrency` statements, answers per item, and can skip the retry', async () => {
    let running = 0;
    let peak = 0;
    const writes: string[][] = [];
    const group = new GroupCommit<string, number>(
      async (items) => {
        writes.push(items);
        running++;
        peak = Math.max(peak, running);
        await tick(10);
        running--;
        if (items.includes('down')) throw new Error('database down');
        return items.map((i) => (i === 'dup' ? new Error('seen before') : i.length));
      },
      { concurrency: 2, maxBatch: 10, retryAlone: (e) => !String(e).includes('down') },
    );
    const a = group.add('a');
    const b = group.add('bb');
    const rest = ['ccc', 'dup', 'down', 'e'].map((i) => group.add(i));
    expect(await a).toBe(1);
    expect(await b).toBe(2);
    const settled = await Promise.allSettled(rest);
    // 'a' and 'bb' each start a statement (two allowed), the rest wait and go together; that batch
    // failed with an error not worth retrying, so all four callers get it.
    expect(writes).toEqual([['a'], ['bb'], ['ccc', 'dup', 'down', 'e']]);
    expect(peak).toBe(2);
    expect(settled.map((s) => (s.status === 'rejected' ? String(s.reason) : s.value))).toEqual([
      'Error: database down',
      'Error: database down',
      'Error: database down',
      'Error: database down',
    ]);
    expect(await Promise.allSettled([group.add('ccc'), group.add('dup')])).toEqual([
      { status: 'fulfilled', value: 3 },
      { status: 'rejected', reason: new Error('seen before') },
    ]);
    await group.idle();
    expect(running).toBe(0);
  });

  it('forEachOrder keeps each order in order and runs different orders at once', async () => {
    const events = [ev('a', '1'), ev('b', '2'), ev('a', '3'), ev('c', '4'), ev('b', '5'), ev('a', '6')];
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const results = await forEachOrder(events, new Limiter(8), async (e) => {
      running++;
      peak = Math.max(peak, running);
      log.push(`start ${e.eventId}`);
      await tick(e.orderId === 'a' ? 15 : 5);
      log.push(`end ${e.eventId}`);
      running--;
      return e.eventId;
    });
    expect(results).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(peak).toBe(3);
    for (const [first, next] of [
      ['1', '3'],
      ['3', '6'],
      ['2', '5'],
    ])
      expect(log.indexOf(`end ${first}`)).toBeLessThan(log.indexOf(`start ${next}`));
  });

  it('forEachOrder respects the limiter and stops an order at its first error', async () => {
    const events = [ev('a', '1'), ev('a', '2'), ev('b', '3'), ev('c', '4')];
    const seen: string[] = [];
    let running = 0;
    let peak = 0;
    await expect(
      forEachOrder(events, new Limiter(1), async (e) => {
        running++;
        peak = Math.max(peak, running);
        seen.push(e.eventId);
        await tick(2);
        running--;
        if (e.eventId === '1') throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(peak).toBe(1);
    expect(seen).not.toContain('2');
  });

  it('distinctEvents drops a resent event and keeps the order', () => {
    expect(distinctEvents([ev('a', 'X'), ev('b', 'y'), ev('a', 'x')]).map((e) => e.eventId)).toEqual([
      'X',
      'y',
    ]);
  });

  it('counts database unavailability as transient, a bad statement not', () => {
    const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(isTransientDbError(pg('53300', 'sorry, too many clients already'))).toBe(true);
    expect(isTransientDbError(pg('57P01'))).toBe(true);
    expect(isTransientDbError(pg('40P01'))).toBe(true);
    expect(isTransientDbError(pg('08006'))).toBe(true);
    // The driver's own connection failures count once the postgres adapter gave them a code.
    expect(isTransientDbError(withDriverCode(new Error('timeout exceeded when trying to connect')))).toBe(
      true,
    );
    expect(isTransientDbError(withDriverCode(new Error('Connection terminated unexpectedly')))).toBe(true);
    expect(isTransientDbError(withDriverCode(new Error('Query read timeout')))).toBe(true);
    expect(isTransientDbError(pg('57014', 'canceling statement due to statement timeout'))).toBe(true);
    expect(isTransientDbError(pg('ECONNREFUSED'))).toBe(true);
    expect(isTransientDbError(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isTransientDbError(pg('23505'))).toBe(false);
    expect(isTransientDbError(pg('42P01'))).toBe(false);
    expect(isTransientDbError(new Error('order 1 not found'))).toBe(false);
  });
});

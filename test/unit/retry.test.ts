import { describe, expect, it } from 'vitest';
import { OrderbusError } from '../../src/errors.js';
import {
  backoffDelay,
  causeChain,
  isRetriable,
  retriableFlag,
  retry,
  RetryStoppedError,
  type RetryOptions,
} from '../../src/retry.js';

/** A clock that only the injected sleep moves, and a log of the pauses taken. */
function fakeTime(random = () => 0.5) {
  const t = { now: 0, pauses: [] as number[] };
  const options: RetryOptions = {
    random,
    now: () => t.now,
    sleep: async (ms) => {
      t.pauses.push(ms);
      t.now += ms;
    },
  };
  return { t, options };
}

/** fn that fails `n` times with `error`, then returns 'ok'. */
function failing(n: number, error: unknown = new Error('down')) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    if (calls.length <= n) throw error;
    return 'ok';
  };
  return { calls, fn };
}

describe('backoffDelay', () => {
  it.each([
    // attempt, policy, expected pause
    [1, { initialMs: 200, maxMs: 5000 }, 200],
    [2, { initialMs: 200, maxMs: 5000 }, 400],
    [5, { initialMs: 200, maxMs: 5000 }, 3200],
    [6, { initialMs: 200, maxMs: 5000 }, 5000],
    [1000, { initialMs: 200, maxMs: 5000 }, 5000],
    [0, { initialMs: 1000, maxMs: 30_000 }, 1000],
    [3, { initialMs: 500, maxMs: 500, multiplier: 1 }, 500],
    [3, { initialMs: 100, maxMs: 10_000, multiplier: 3 }, 900],
  ])('attempt %i of %j pauses %i ms', (attempt, policy, expected) => {
    expect(backoffDelay(attempt, policy)).toBe(expected);
  });

  it('spreads by ±jitter and never past the cap', () => {
    const policy = { initialMs: 1000, maxMs: 5000, jitter: 0.2 };
    expect(backoffDelay(1, policy, () => 0)).toBe(800);
    expect(backoffDelay(1, policy, () => 0.5)).toBe(1000);
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(1200);
    expect(backoffDelay(10, policy, () => 0.999999)).toBe(5000);
    expect(backoffDelay(10, policy, () => 0)).toBe(4000);
  });
});

describe('retry', () => {
  it('returns the first success, after the policy pauses', async () => {
    const { t, options } = fakeTime();
    const { calls, fn } = failing(3);
    await expect(retry(fn, { initialMs: 200, maxMs: 500 }, options)).resolves.toBe('ok');
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(t.pauses).toEqual([200, 400, 500]);
  });

  it('throws the last error itself once maxAttempts failed', async () => {
    const { t, options } = fakeTime();
    const error = new Error('still down');
    const { calls, fn } = failing(10, error);
    await expect(retry(fn, { initialMs: 100, maxMs: 1000, maxAttempts: 3 }, options)).rejects.toBe(error);
    expect(calls).toEqual([1, 2, 3]);
    expect(t.pauses).toEqual([100, 200]);
  });

  it('starts no attempt past the deadline', async () => {
    const { t, options } = fakeTime();
    const { calls, fn } = failing(10);
    await expect(retry(fn, { initialMs: 100, maxMs: 1000, deadlineMs: 1000 }, options)).rejects.toThrow(
      'down',
    );
    // pauses 100 + 200 + 400 = 700; the next (800) would end past 1000
    expect(t.pauses).toEqual([100, 200, 400]);
    expect(calls).toHaveLength(4);
  });

  it('asks the predicate, with the attempt that failed', async () => {
    const { options } = fakeTime();
    const seen: number[] = [];
    const { calls, fn } = failing(10);
    const retriable = (_: unknown, attempt: number) => {
      seen.push(attempt);
      return attempt < 2;
    };
    await expect(retry(fn, { initialMs: 1, maxMs: 1 }, { ...options, retriable })).rejects.toThrow('down');
    expect(calls).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
  });

  it('by default retries what is not flagged otherwise, not programming errors', async () => {
    const { options } = fakeTime();
    const final = new OrderbusError('X', 'no', { retriable: false });
    const a = failing(1, final);
    await expect(retry(a.fn, { initialMs: 1, maxMs: 1 }, options)).rejects.toBe(final);
    expect(a.calls).toEqual([1]);
    const b = failing(1, new TypeError('bug'));
    await expect(retry(b.fn, { initialMs: 1, maxMs: 1 }, options)).rejects.toThrow('bug');
    const c = failing(2, new OrderbusError('Y', 'later', { retriable: true }));
    await expect(retry(c.fn, { initialMs: 1, maxMs: 1 }, options)).resolves.toBe('ok');
  });

  it('reports each retry to onRetry before its pause', async () => {
    const { t, options } = fakeTime(() => 0);
    const events: string[] = [];
    const { fn } = failing(2);
    await retry(
      fn,
      { initialMs: 100, maxMs: 1000, jitter: 0.5 },
      {
        ...options,
        onRetry: ({ attempt, delayMs, error }) => {
          events.push(`${attempt}:${delayMs}:${(error as Error).message}:${t.pauses.length}`);
        },
      },
    );
    expect(events).toEqual(['1:50:down:0', '2:100:down:1']);
  });

  it('stops after a failure, or after a pause, with the last error', async () => {
    const { options } = fakeTime();
    let stopping = false;
    const calls: number[] = [];
    const fn = async (attempt: number) => {
      calls.push(attempt);
      throw new Error(`failure ${attempt}`);
    };
    const policy = { initialMs: 10, maxMs: 10 };
    const r = retry(fn, policy, {
      ...options,
      stop: () => stopping,
      sleep: async () => {
        stopping = calls.length === 2;
      },
    });
    await expect(r).rejects.toThrow('failure 2');
    expect(calls).toEqual([1, 2]);
    calls.length = 0;
    await expect(retry(fn, policy, { ...options, stop: () => calls.length === 1 })).rejects.toThrow(
      'failure 1',
    );
    expect(calls).toEqual([1]);
  });

  it('an abort cuts the pause short and ends the retries', async () => {
    const controller = new AbortController();
    const fn = async () => {
      setTimeout(() => controller.abort(), 5);
      throw new Error('down');
    };
    const started = Date.now();
    await expect(
      retry(fn, { initialMs: 60_000, maxMs: 60_000 }, { signal: controller.signal }),
    ).rejects.toThrow('down');
    expect(Date.now() - started).toBeLessThan(5000);
    const aborted = AbortSignal.abort(new Error('not wanted'));
    await expect(retry(fn, { initialMs: 1, maxMs: 1 }, { signal: aborted })).rejects.toThrow('not wanted');
  });

  it('delayFirst pauses before the first attempt and shifts the schedule by one', async () => {
    const { t, options } = fakeTime();
    const { fn } = failing(2);
    await retry(fn, { initialMs: 250, maxMs: 5000 }, { ...options, delayFirst: true });
    expect(t.pauses).toEqual([250, 500, 1000]);
    await expect(
      retry(fn, { initialMs: 1, maxMs: 1 }, { ...options, delayFirst: true, stop: () => true }),
    ).rejects.toBeInstanceOf(RetryStoppedError);
  });
});

describe('retriable flags and causes', () => {
  it('reads the flag only when it is a boolean', () => {
    expect(retriableFlag(new OrderbusError('A', 'a', { retriable: true }))).toBe(true);
    expect(retriableFlag(new OrderbusError('A', 'a'))).toBe(false);
    expect(retriableFlag(new Error('plain'))).toBeUndefined();
    expect(retriableFlag(undefined)).toBeUndefined();
    expect(retriableFlag({ retriable: 'yes' })).toBeUndefined();
    expect(isRetriable(new Error('plain'))).toBe(true);
    expect(isRetriable(new RangeError('bug'))).toBe(false);
  });

  it('walks the cause chain outermost first and survives a loop', () => {
    const inner = { type: 'UNKNOWN_TOPIC_OR_PARTITION' };
    const outer = new Error('retries exceeded', { cause: inner });
    expect(causeChain(outer)).toEqual([outer, inner]);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(causeChain(loop)).toEqual([loop]);
    expect(causeChain(undefined)).toEqual([]);
  });
});

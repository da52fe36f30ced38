/**
 * One retrier for every loop that tries again, after kafkajs' `src/retry/index.js`: exponential
 * backoff with a cap and jitter, a retriable predicate, a limit of attempts or of time, a stop
 * condition or abort signal, and an onRetry hook for logging. `backoffDelay` is the same formula
 * for the places that schedule a delay instead of waiting in a loop (a job's next attempt written
 * to the database). Each caller names its policy as a constant, so its timing reads in one place.
 */

export interface BackoffPolicy {
  /** Pause after the first failure, ms. */
  initialMs: number;
  /** The longest pause, ms. */
  maxMs: number;
  /** Growth from one pause to the next: 2 doubles it, 1 keeps it fixed. Default 2. */
  multiplier?: number;
  /**
   * Spread: each pause is drawn from ±jitter of its value (0.2 = ±20 %), then capped at maxMs, so
   * clients that failed together do not all come back at once. Default 0.
   */
  jitter?: number;
}

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts in all, the first included. Default: no limit. */
  maxAttempts?: number;
  /** No attempt starts later than this after the first one began, ms. Default: no limit. */
  deadlineMs?: number;
}

export interface RetryFailure {
  /** The attempt that failed, from 1. */
  attempt: number;
  error: unknown;
  /** The pause before the next attempt, ms. */
  delayMs: number;
}

export interface RetryOptions {
  /** Whether a failure is worth another attempt (`attempt` is the one that failed). Default `isRetriable`. */
  retriable?: (error: unknown, attempt: number) => boolean;
  /** Checked after each failure and each pause: once true, no further attempt (the last error is thrown). */
  stop?: () => boolean;
  /** Like `stop`, and it also cuts a pause short. */
  signal?: AbortSignal;
  /** Called, and awaited, after each failure that will be retried, before the pause. */
  onRetry?: (failure: RetryFailure) => void | Promise<void>;
  /** Pause before the first attempt too (a reconnect right after a close would meet the same fault). */
  delayFirst?: boolean;
  /** Injected for tests: random in [0, 1), the clock, and the pause. */
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The pause after the `attempt`-th failure (from 1): initialMs × multiplier^(attempt − 1), capped at
 * maxMs, spread by ±jitter and capped again; whole milliseconds.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const grown = policy.initialMs * (policy.multiplier ?? 2) ** (Math.max(1, attempt) - 1);
  const base = Math.min(policy.maxMs, grown);
  const jitter = policy.jitter ?? 0;
  const spread = jitter > 0 ? base * (1 - jitter + 2 * jitter * random()) : base;
  return Math.round(Math.min(policy.maxMs, spread));
}

/**
 * Runs `fn` (given the attempt number, from 1) until it resolves, and returns its value. A failure
 * is retried after `backoffDelay` while `retriable` says so and the policy's attempts and deadline
 * allow it and nothing stopped it; otherwise that failure's error is thrown as it is (callers keep
 * matching on their own errors, unlike kafkajs, which wraps them).
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  const { signal, random = Math.random, now = Date.now, sleep = pause } = options;
  const retriable = options.retriable ?? isRetriable;
  const stopped = () => (signal?.aborted ?? false) || (options.stop?.() ?? false);
  const maxAttempts = policy.maxAttempts ?? Number.POSITIVE_INFINITY;
  const started = now();
  if (signal?.aborted) throw signal.reason;
  if (options.delayFirst) {
    await sleep(backoffDelay(1, policy, random), signal);
    if (stopped()) throw signal?.aborted ? signal.reason : new RetryStoppedError();
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const delayMs = backoffDelay(options.delayFirst ? attempt + 1 : attempt, policy, random);
      const late = policy.deadlineMs !== undefined && now() - started + delayMs > policy.deadlineMs;
      if (stopped() || attempt >= maxAttempts || late || !retriable(error, attempt)) throw error;
      await options.onRetry?.({ attempt, error, delayMs });
      await sleep(delayMs, signal);
      if (stopped()) throw error;
    }
  }
}

/** Thrown when a stop came during the pause before the first attempt (there is no failure to throw). */
export class RetryStoppedError extends Error {
  constructor() {
    super('stopped before the first attempt');
    this.name = 'RetryStoppedError';
  }
}

/** A pause that an abort ends early (resolving: the retrier decides what an abort means). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The error's own `retriable` flag (OrderbusError, kafkajs errors, ProviderCallError), if it has one. */
export function retriableFlag(error: unknown): boolean | undefined {
  const flag = (error as { retriable?: unknown } | null | undefined)?.retriable;
  return typeof flag === 'boolean' ? flag : undefined;
}

/** Errors in the code, not in the world: another attempt fails the same way (kafkajs' list). */
const PROGRAMMING_ERRORS = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError']);

/** kafkajs' default rule: retriable unless the error says it is not, or is a programming error. */
export function isRetriable(error: unknown): boolean {
  return retriableFlag(error) !== false && !(error instanceof Error && PROGRAMMING_ERRORS.has(error.name));
}

/** The error and the causes it wraps, outermost first (kafkajs' "retries exceeded" wraps its last failure). */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && !chain.includes(e);) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return chain;
}

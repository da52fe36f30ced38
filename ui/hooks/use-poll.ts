import { useEffect, useRef, useState } from 'react';

export interface PollState<T> {
  data: T | null;
  error: unknown;
  /** Time of the last successful poll. */
  at: Date | null;
}

/**
 * Polls `fn` every `intervalMs` while `enabled`, and at once when `tick` changes. Keeps the last
 * good data when a poll fails (a broker that stops answering shows as an error in place, and the
 * screen recovers by itself when it answers again). Never overlaps two polls.
 */
export function usePoll<T>(
  fn: () => Promise<T>,
  intervalMs: number,
  enabled: boolean,
  tick: number,
  key = '',
): PollState<T> {
  // Data is kept per key: another key (another DLQ, another order) starts empty, not with the last one's rows.
  const [state, setState] = useState<PollState<T> & { key: string }>({
    data: null,
    error: null,
    at: null,
    key,
  });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let running = false;
    let timer: NodeJS.Timeout | undefined;
    const run = async () => {
      if (running || stopped) return;
      running = true;
      try {
        const data = await fnRef.current();
        if (!stopped) setState({ data, error: null, at: new Date(), key });
      } catch (error) {
        if (!stopped)
          setState((s) => (s.key === key ? { ...s, error } : { data: null, error, at: null, key }));
      } finally {
        running = false;
        if (!stopped) timer = setTimeout(() => void run(), intervalMs);
      }
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [enabled, intervalMs, tick, key]);
  return state.key === key ? state : { data: null, error: null, at: null };
}

import { useRef } from 'react';

/**
 * Keeps the last `points` values per key (lag per group for the sparklines). Bounded, so memory
 * stays flat however long the console runs. Taken in the render that shows a new poll (`at`
 * changed), not in an effect: an effect's state update drew the whole screen a second time for
 * every poll (1,000 groups, every 2 s).
 */
export function useHistory(
  values: (() => Record<string, number>) | null,
  at: Date | null,
  points = 60,
): Record<string, number[]> {
  const ref = useRef<{ at: Date | null; history: Record<string, number[]> }>({ at: null, history: {} });
  if (values && at !== ref.current.at) {
    const before = ref.current.history;
    const next: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(values())) next[k] = [...(before[k] ?? []), v].slice(-points);
    ref.current = { at, history: next };
  }
  return ref.current.history;
}

import { useEffect, useRef, useState } from 'react';

/**
 * Keeps the last `points` values per key (lag per group for the sparklines). Bounded, so memory
 * stays flat however long the console runs.
 */
export function useHistory(
  values: Record<string, number> | null,
  at: Date | null,
  points = 60,
): Record<string, number[]> {
  const ref = useRef<Record<string, number[]>>({});
  const [snapshot, setSnapshot] = useState<Record<string, number[]>>({});
  useEffect(() => {
    if (!values) return;
    const next: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(values)) next[k] = [...(ref.current[k] ?? []), v].slice(-points);
    ref.current = next;
    setSnapshot(next);
  }, [at]);
  return snapshot;
}

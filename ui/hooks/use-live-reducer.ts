import { useCallback, useRef, useState, type Dispatch, type RefObject } from 'react';

/**
 * useReducer whose current state is readable at once through a ref: keys that arrive in one
 * burst (`j j j j Enter` faster than a frame) each see the state the keys before them made, not
 * the last rendered one. Every dispatch re-renders.
 */
export function useLiveReducer<S, E>(reduce: (s: S, e: E) => S, initial: S): [RefObject<S>, Dispatch<E>] {
  const state = useRef(initial);
  const [, rendered] = useState(0);
  const dispatch = useCallback(
    (e: E) => {
      const next = reduce(state.current, e);
      if (next === state.current) return;
      state.current = next;
      rendered((n) => n + 1);
    },
    [reduce],
  );
  return [state, dispatch];
}

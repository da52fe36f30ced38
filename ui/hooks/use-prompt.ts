import { useRef, type Dispatch } from 'react';
import type { Key } from 'ink';
import type { ConsoleEvent, PromptKind } from '../state.js';

/** The one-line prompt at the bottom (filter, order id, typed confirmations). */
export interface PromptControl {
  kind(): PromptKind | null;
  text(): string;
  open(kind: PromptKind, label: string, text?: string): void;
  close(): void;
  /** One key typed into the open prompt: backspace deletes, printable text appends. */
  type(input: string, key: Key): void;
}

export function usePrompt(dispatch: Dispatch<ConsoleEvent>): PromptControl {
  // Keys can arrive faster than React re-renders: the prompt's text lives in a ref too, so a
  // keypress never appends to a stale copy.
  const text = useRef('');
  const kind = useRef<PromptKind | null>(null);
  return {
    kind: () => kind.current,
    text: () => text.current,
    open: (k, label, initial = '') => {
      text.current = initial;
      kind.current = k;
      dispatch({ type: 'prompt', kind: k, label, text: initial });
    },
    close: () => {
      kind.current = null;
      dispatch({ type: 'promptCancel' });
    },
    type: (input, key) => {
      if (key.backspace || key.delete) text.current = text.current.slice(0, -1);
      else if (!key.ctrl && !key.meta && input) text.current += input;
      dispatch({ type: 'promptInput', text: text.current });
    },
  };
}

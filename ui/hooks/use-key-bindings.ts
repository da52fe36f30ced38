import { useRef } from 'react';
import { useInput, type Key } from 'ink';
import { actionFor, type Action } from '../keys.js';
import type { PromptControl } from './use-prompt.js';

export interface KeyBindingHandlers {
  /** What each action of the binding table (ui/keys.ts) does. */
  actions: Record<Action, () => void>;
  prompt: PromptControl;
  /** Enter in the open prompt, with its text. */
  onSubmit: (text: string) => void;
  /** Esc in the open prompt. */
  onCancel: () => void;
}

/**
 * Routes every keypress: into the open prompt, else to the action its binding names. The
 * handlers of the last render answer, so a key pressed right after a frame appears acts on it.
 */
export function useKeyBindings(handlers: KeyBindingHandlers): void {
  const latest = useRef(handlers);
  latest.current = handlers;

  const handleKey = (input: string, key: Key) => {
    const { actions, prompt, onSubmit, onCancel } = latest.current;
    if (prompt.kind()) {
      if (key.return) onSubmit(prompt.text());
      else if (key.escape) onCancel();
      else prompt.type(input, key);
      return;
    }
    const action = actionFor(input, key);
    if (action) actions[action]();
  };

  // A terminal may deliver several typed characters in one chunk (a paste, or keys typed faster
  // than a frame): each is handled as its own keypress, so '/' followed by text opens the filter
  // and fills it, and a trailing Enter submits.
  useInput((input, key) => {
    const plain = input.length > 1 && !key.ctrl && !key.meta && !input.includes('\u001b');
    if (!plain) return handleKey(input, key);
    for (const ch of input) {
      if (ch === '\r' || ch === '\n') handleKey('', { ...key, return: true });
      else handleKey(ch, key);
    }
  });
}

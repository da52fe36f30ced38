import type { Key } from 'ink';

/** Every key binding of the console, in one place (the help overlay renders this table). */
export type Action =
  | 'quit'
  | 'help'
  | 'refresh'
  | 'filter'
  | 'up'
  | 'down'
  | 'open'
  | 'back'
  | 'nextPanel'
  | 'screenOverview'
  | 'screenDlq'
  | 'screenTrace'
  | 'redriveSelected'
  | 'redriveAll'
  | 'fixUrl'
  | 'edit'
  | 'purge'
  | 'resetOffsets'
  | 'toggleSelect';

export interface Binding {
  action: Action;
  keys: string;
  description: string;
  matches: (input: string, key: Key) => boolean;
}

export const BINDINGS: Binding[] = [
  { action: 'quit', keys: 'q', description: 'quit', matches: (i) => i === 'q' },
  { action: 'help', keys: '?', description: 'this help', matches: (i) => i === '?' },
  { action: 'refresh', keys: 'r', description: 'refresh now', matches: (i) => i === 'r' },
  { action: 'filter', keys: '/', description: 'filter rows', matches: (i) => i === '/' },
  { action: 'up', keys: '↑ k', description: 'move up', matches: (i, k) => k.upArrow || i === 'k' },
  { action: 'down', keys: '↓ j', description: 'move down', matches: (i, k) => k.downArrow || i === 'j' },
  { action: 'open', keys: 'enter', description: 'open / drill down', matches: (_i, k) => k.return },
  { action: 'back', keys: 'esc ←', description: 'back', matches: (_i, k) => k.escape || k.leftArrow },
  { action: 'nextPanel', keys: 'tab', description: 'next panel', matches: (_i, k) => k.tab },
  { action: 'screenOverview', keys: '1', description: 'overview', matches: (i) => i === '1' },
  { action: 'screenDlq', keys: '2 d', description: 'dead letters', matches: (i) => i === '2' || i === 'd' },
  {
    action: 'screenTrace',
    keys: '3 t',
    description: 'trace an order',
    matches: (i) => i === '3' || i === 't',
  },
  { action: 'toggleSelect', keys: 'space', description: 'select message', matches: (i) => i === ' ' },
  {
    action: 'redriveSelected',
    keys: 'R',
    description: 'redrive selected (dry run first)',
    matches: (i) => i === 'R',
  },
  { action: 'redriveAll', keys: 'A', description: 'redrive all (dry run first)', matches: (i) => i === 'A' },
  { action: 'fixUrl', keys: 'u', description: 'fix a URL prefix (OLD=NEW)', matches: (i) => i === 'u' },
  { action: 'edit', keys: 'e', description: 'edit payload in $EDITOR', matches: (i) => i === 'e' },
  { action: 'purge', keys: 'P', description: 'purge DLQ (type its name)', matches: (i) => i === 'P' },
  {
    action: 'resetOffsets',
    keys: 'o',
    description: 'reset offsets (plan, confirm)',
    matches: (i) => i === 'o',
  },
];

export function actionFor(input: string, key: Key): Action | undefined {
  return BINDINGS.find((b) => b.matches(input, key))?.action;
}

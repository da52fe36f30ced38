import type {
  DlqMessageView,
  DlqView,
  GroupView,
  QueueView,
  RedrivePreview,
  RedriveRequest,
  ResetPlanView,
  StatusMessage,
} from './model.js';

/** Screen state of the console: a pure reducer, tested without a terminal. */
export type Screen = 'overview' | 'group' | 'dlqs' | 'dlqMessages' | 'trace';
export type Panel = 'groups' | 'queues';
export type PromptKind = 'filter' | 'fixUrl' | 'purgeConfirm' | 'traceId' | 'confirm' | 'resetStrategy';

export interface Prompt {
  kind: PromptKind;
  label: string;
  text: string;
}

export type Pending =
  | { kind: 'redrive'; request: RedriveRequest; preview: RedrivePreview }
  | { kind: 'reset'; plan: ResetPlanView };

/**
 * The highlighted row of a list: by key (group, queue, DLQ, message id, topic/partition), so it
 * stays on the same row when a refresh re-sorts the list; the index only where the key is gone.
 */
export interface Cursor {
  key: string | null;
  index: number;
}

/** A redrive being planned: what it has scanned so far (Esc cancels it). */
export interface Planning {
  dlq: string;
  scanned: number;
  total: number;
}

export interface ConsoleState {
  screen: Screen;
  panel: Panel;
  help: boolean;
  cursor: Record<Screen | Panel, Cursor>;
  filter: string;
  prompt: Prompt | null;
  group: string | null;
  dlq: string | null;
  traceId: string | null;
  selected: string[];
  pending: Pending | null;
  planning: Planning | null;
  progress: { done: number; total: number } | null;
  status: StatusMessage | null;
  /** Bumped to ask the pollers for an immediate refresh. */
  refreshTick: number;
}

const top: Cursor = { key: null, index: 0 };

export const initialState: ConsoleState = {
  screen: 'overview',
  panel: 'groups',
  help: false,
  cursor: { overview: top, group: top, dlqs: top, dlqMessages: top, trace: top, groups: top, queues: top },
  filter: '',
  prompt: null,
  group: null,
  dlq: null,
  traceId: null,
  selected: [],
  pending: null,
  planning: null,
  progress: null,
  status: null,
  refreshTick: 0,
};

export type ConsoleEvent =
  | { type: 'toggleHelp' }
  | { type: 'refresh' }
  /** `keys`: the rows on screen when the key was pressed, in their order. */
  | { type: 'move'; delta: number; keys: string[] }
  | { type: 'nextPanel' }
  | { type: 'show'; screen: Screen }
  | { type: 'openGroup'; group: string }
  | { type: 'openDlq'; dlq: string }
  | { type: 'back' }
  | { type: 'toggleSelect'; id: string }
  | { type: 'prompt'; kind: PromptKind; label: string; text?: string }
  | { type: 'promptInput'; text: string }
  | { type: 'promptCancel' }
  | { type: 'setFilter'; filter: string }
  | { type: 'setTrace'; orderId: string }
  | { type: 'pending'; pending: Pending | null }
  | { type: 'planning'; planning: Planning | null }
  | { type: 'progress'; progress: { done: number; total: number } | null }
  | { type: 'status'; status: StatusMessage | null };

/** The panel or screen whose cursor arrows move. */
export function cursorKey(s: ConsoleState): Screen | Panel {
  return s.screen === 'overview' ? s.panel : s.screen;
}

/** Where a cursor is in these rows: its key's row, else its index (kept inside the list). */
export function cursorIndex(c: Cursor, keys: readonly string[]): number {
  const at = c.key === null ? -1 : keys.indexOf(c.key);
  return at >= 0 ? at : Math.max(0, Math.min(c.index, keys.length - 1));
}

const withCursor = (s: ConsoleState, which: Screen | Panel, c: Cursor): ConsoleState => ({
  ...s,
  cursor: { ...s.cursor, [which]: c },
});

/** Where a finished plan belongs: its confirmation is shown there, with its diff or rows. */
function screenOf(s: ConsoleState, p: Pending): ConsoleState {
  if (p.kind === 'redrive')
    return s.screen === 'dlqMessages' && s.dlq === p.request.dlq
      ? s
      : { ...s, screen: 'dlqMessages', dlq: p.request.dlq, filter: '', help: false };
  return s.screen === 'group' && s.group === p.plan.group
    ? s
    : { ...s, screen: 'group', group: p.plan.group, filter: '', help: false };
}

export function reduce(s: ConsoleState, e: ConsoleEvent): ConsoleState {
  switch (e.type) {
    case 'toggleHelp':
      return { ...s, help: !s.help };
    case 'refresh':
      return { ...s, refreshTick: s.refreshTick + 1 };
    case 'move': {
      const which = cursorKey(s);
      if (e.keys.length === 0) return s;
      const at = cursorIndex(s.cursor[which], e.keys);
      const next = Math.min(e.keys.length - 1, Math.max(0, at + e.delta));
      return withCursor(s, which, { key: e.keys[next] ?? null, index: next });
    }
    case 'nextPanel':
      return s.screen === 'overview' ? { ...s, panel: s.panel === 'groups' ? 'queues' : 'groups' } : s;
    case 'show':
      return { ...s, screen: e.screen, help: false, filter: '', pending: null, selected: [] };
    case 'openGroup':
      return { ...withCursor(s, 'group', top), screen: 'group', group: e.group, filter: '' };
    case 'openDlq':
      return {
        ...withCursor(s, 'dlqMessages', top),
        screen: 'dlqMessages',
        dlq: e.dlq,
        selected: [],
        filter: '',
      };
    case 'back': {
      if (s.help) return { ...s, help: false };
      if (s.pending)
        return { ...s, pending: null, status: { kind: 'info', text: 'cancelled; nothing was changed' } };
      if (s.filter) return { ...s, filter: '' };
      const parent: Record<Screen, Screen> = {
        overview: 'overview',
        group: 'overview',
        dlqs: 'overview',
        dlqMessages: 'dlqs',
        trace: 'overview',
      };
      return { ...s, screen: parent[s.screen], selected: [] };
    }
    case 'toggleSelect':
      return {
        ...s,
        selected: s.selected.includes(e.id) ? s.selected.filter((x) => x !== e.id) : [...s.selected, e.id],
      };
    case 'prompt':
      // A prompt starts a new action: the last one's status line goes.
      return { ...s, prompt: { kind: e.kind, label: e.label, text: e.text ?? '' }, status: null };
    case 'promptInput':
      return s.prompt ? { ...s, prompt: { ...s.prompt, text: e.text } } : s;
    case 'promptCancel':
      return { ...s, prompt: null };
    case 'setFilter':
      return { ...withCursor(s, cursorKey(s), top), filter: e.filter, prompt: null };
    case 'setTrace':
      return { ...s, traceId: e.orderId, screen: 'trace', prompt: null };
    case 'pending':
      return e.pending
        ? { ...screenOf(s, e.pending), pending: e.pending, prompt: null }
        : { ...s, pending: null, prompt: null };
    case 'planning':
      return { ...s, planning: e.planning, ...(e.planning && !s.planning ? { status: null } : {}) };
    case 'progress':
      return { ...s, progress: e.progress };
    case 'status':
      return { ...s, status: e.status };
  }
}

/** Rows that survive the `/` filter (case-insensitive substring of the row's label). */
export function applyFilter<T>(rows: T[], filter: string, label: (row: T) => string): T[] {
  if (!filter) return rows;
  const f = filter.toLowerCase();
  return rows.filter((r) => label(r).toLowerCase().includes(f));
}

/** The rows on screen after the filter and sort: what the cursor moves over and keys act on. */
export interface ScreenRows {
  groups: GroupView[];
  queues: QueueView[];
  dlqRows: DlqView[];
  messageRows: DlqMessageView[];
  /** The group of the group screen, while it still exists. */
  group: GroupView | undefined;
}

export const partitionKey = (p: { topic: string; partition: number }): string => `${p.topic}/${p.partition}`;

type List = 'groups' | 'queues' | 'group' | 'dlqs' | 'dlqMessages';

/** The key of each row of each list with a cursor, in screen order. */
const LIST_KEYS: Record<List, (rows: ScreenRows) => string[]> = {
  groups: (rows) => rows.groups.map((g) => g.group),
  queues: (rows) => rows.queues.map((q) => q.name),
  group: (rows) => rows.group?.partitions.map(partitionKey) ?? [],
  dlqs: (rows) => rows.dlqRows.map((d) => d.name),
  dlqMessages: (rows) => rows.messageRows.map((m) => m.id),
};

/** The keys of the rows the cursor of the current screen or panel moves over, in screen order. */
export function rowKeys(s: ConsoleState, rows: ScreenRows): string[] {
  const which = cursorKey(s);
  return which in LIST_KEYS ? LIST_KEYS[which as List](rows) : [];
}

/** The highlighted row's index in each list on screen (what components render). */
export function cursorIndexes(s: ConsoleState, rows: ScreenRows): Record<List, number> {
  const at = (list: List) => cursorIndex(s.cursor[list], LIST_KEYS[list](rows));
  return {
    groups: at('groups'),
    queues: at('queues'),
    group: at('group'),
    dlqs: at('dlqs'),
    dlqMessages: at('dlqMessages'),
  };
}

/** The row under the cursor of a list. */
export function currentRow<T>(rows: T[], c: Cursor, key: (row: T) => string): T | undefined {
  return rows[cursorIndex(c, rows.map(key))];
}

/** A queue's dead letters: a DLQ is its own, a work queue's is `<name>.dlq`. */
const dlqOf = (q: QueueView): string =>
  q.name.endsWith('.dlq') || q.type === 'kafka' ? q.name : `${q.name}.dlq`;

/** What Enter on the row under the cursor opens: a group, or a queue's or a DLQ's dead letters. */
export function openEvent(s: ConsoleState, rows: ScreenRows): ConsoleEvent | null {
  if (s.screen === 'overview' && s.panel === 'groups') {
    const g = currentRow(rows.groups, s.cursor.groups, (x) => x.group);
    return g ? { type: 'openGroup', group: g.group } : null;
  }
  if (s.screen === 'overview') {
    const q = currentRow(rows.queues, s.cursor.queues, (x) => x.name);
    return q ? { type: 'openDlq', dlq: dlqOf(q) } : null;
  }
  if (s.screen === 'dlqs') {
    const d = currentRow(rows.dlqRows, s.cursor.dlqs, (x) => x.name);
    return d ? { type: 'openDlq', dlq: d.name } : null;
  }
  return null;
}

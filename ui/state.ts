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

export interface ConsoleState {
  screen: Screen;
  panel: Panel;
  help: boolean;
  cursor: Record<Screen | Panel, number>;
  filter: string;
  prompt: Prompt | null;
  group: string | null;
  dlq: string | null;
  traceId: string | null;
  selected: string[];
  pending: Pending | null;
  progress: { done: number; total: number } | null;
  status: StatusMessage | null;
  /** Bumped to ask the pollers for an immediate refresh. */
  refreshTick: number;
}

export const initialState: ConsoleState = {
  screen: 'overview',
  panel: 'groups',
  help: false,
  cursor: { overview: 0, group: 0, dlqs: 0, dlqMessages: 0, trace: 0, groups: 0, queues: 0 },
  filter: '',
  prompt: null,
  group: null,
  dlq: null,
  traceId: null,
  selected: [],
  pending: null,
  progress: null,
  status: null,
  refreshTick: 0,
};

export type ConsoleEvent =
  | { type: 'toggleHelp' }
  | { type: 'refresh' }
  | { type: 'move'; delta: number; rows: number }
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
  | { type: 'progress'; progress: { done: number; total: number } | null }
  | { type: 'status'; status: StatusMessage | null };

/** The panel or screen whose cursor arrows move. */
export function cursorKey(s: ConsoleState): Screen | Panel {
  return s.screen === 'overview' ? s.panel : s.screen;
}

export function reduce(s: ConsoleState, e: ConsoleEvent): ConsoleState {
  switch (e.type) {
    case 'toggleHelp':
      return { ...s, help: !s.help };
    case 'refresh':
      return { ...s, refreshTick: s.refreshTick + 1 };
    case 'move': {
      const key = cursorKey(s);
      const max = Math.max(0, e.rows - 1);
      const next = Math.min(max, Math.max(0, s.cursor[key] + e.delta));
      return next === s.cursor[key] ? s : { ...s, cursor: { ...s.cursor, [key]: next } };
    }
    case 'nextPanel':
      return s.screen === 'overview' ? { ...s, panel: s.panel === 'groups' ? 'queues' : 'groups' } : s;
    case 'show':
      return { ...s, screen: e.screen, help: false, filter: '', pending: null, selected: [] };
    case 'openGroup':
      return { ...s, screen: 'group', group: e.group, cursor: { ...s.cursor, group: 0 }, filter: '' };
    case 'openDlq':
      return {
        ...s,
        screen: 'dlqMessages',
        dlq: e.dlq,
        selected: [],
        cursor: { ...s.cursor, dlqMessages: 0 },
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
      return { ...s, prompt: { kind: e.kind, label: e.label, text: e.text ?? '' } };
    case 'promptInput':
      return s.prompt ? { ...s, prompt: { ...s.prompt, text: e.text } } : s;
    case 'promptCancel':
      return { ...s, prompt: null };
    case 'setFilter':
      return { ...s, filter: e.filter, prompt: null, cursor: { ...s.cursor, [cursorKey(s)]: 0 } };
    case 'setTrace':
      return { ...s, traceId: e.orderId, screen: 'trace', prompt: null };
    case 'pending':
      return { ...s, pending: e.pending, prompt: null };
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

/** How many rows the cursor of the current screen or panel moves over. */
export function rowCount(s: ConsoleState, rows: ScreenRows): number {
  switch (cursorKey(s)) {
    case 'groups':
      return rows.groups.length;
    case 'queues':
      return rows.queues.length;
    case 'group':
      return rows.group?.partitions.length ?? 0;
    case 'dlqs':
      return rows.dlqRows.length;
    default:
      return rows.messageRows.length;
  }
}

/** What Enter on the row under the cursor opens: a group, or a queue's or a DLQ's dead letters. */
export function openEvent(s: ConsoleState, rows: ScreenRows): ConsoleEvent | null {
  if (s.screen === 'overview' && s.panel === 'groups') {
    const g = rows.groups[s.cursor.groups];
    return g ? { type: 'openGroup', group: g.group } : null;
  }
  if (s.screen === 'overview') {
    const q = rows.queues[s.cursor.queues];
    return q ? { type: 'openDlq', dlq: q.name.endsWith('.dlq') ? q.name : `${q.name}.dlq` } : null;
  }
  if (s.screen === 'dlqs') {
    const d = rows.dlqRows[s.cursor.dlqs];
    return d ? { type: 'openDlq', dlq: d.name } : null;
  }
  return null;
}

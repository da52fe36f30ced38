import type { ComponentView, ConsoleOps, StatusMessage, TraceView } from '../model.js';
import { toStatusMessage } from '../model.js';
import { applyFilter, type ConsoleState, type ScreenRows } from '../state.js';
import { sortGroups, sortQueues } from '../components/overview.js';
import { useHistory } from './use-history.js';
import { usePoll } from './use-poll.js';

const DLQ_PAGE = 200;

export interface ConsoleData {
  rows: ScreenRows;
  components: ComponentView[];
  /** Lag per group over the last polls, for the sparklines. */
  history: Record<string, number[]>;
  /** HH:MM:SS of the last good overview poll. */
  refreshedAt: string | null;
  trace: TraceView | null;
  /** The open DLQ's browse: null while its first page loads; `total` counts held letters too. */
  browse: { shown: number; total: number } | null;
  /** The state's own status line, else the error of a poll that failed. */
  status: StatusMessage | null;
}

/** Polls what the current screen shows through the port and filters and sorts it for display. */
export function useConsoleData(ops: ConsoleOps, state: ConsoleState, refreshMs: number): ConsoleData {
  const overview = usePoll(() => ops.overview(), refreshMs, true, state.refreshTick);
  // A browse holds the letters it reads: none runs while a redrive is planned, confirmed or sent,
  // so the plan sees every letter, and the list is only browsed on its own screen.
  const redriving = state.planning !== null || state.pending?.kind === 'redrive' || state.progress !== null;
  const onDlqList = state.screen === 'dlqs' && !redriving;
  const dlqs = usePoll(() => ops.dlqs(), refreshMs, onDlqList, state.refreshTick);
  const messages = usePoll(
    () => ops.dlqMessages(state.dlq ?? '', DLQ_PAGE),
    refreshMs,
    state.screen === 'dlqMessages' && state.dlq !== null && !redriving,
    state.refreshTick,
    state.dlq ?? '',
  );
  const trace = usePoll(
    () => ops.trace(state.traceId ?? ''),
    refreshMs,
    state.screen === 'trace' && state.traceId !== null,
    state.refreshTick,
    state.traceId ?? '',
  );
  const groups = overview.data?.groups;
  const history = useHistory(
    groups ? () => Object.fromEntries(groups.map((g) => [g.group, g.totalLag])) : null,
    overview.at,
  );

  const rows: ScreenRows = {
    groups: sortGroups(applyFilter(overview.data?.groups ?? [], state.filter, (g) => g.group)),
    queues: sortQueues(applyFilter(overview.data?.queues ?? [], state.filter, (q) => q.name)),
    dlqRows: applyFilter(dlqs.data ?? [], state.filter, (d) => d.name),
    messageRows: applyFilter(
      messages.data?.messages ?? [],
      state.filter,
      (m) => `${m.id} ${m.errorClass ?? ''} ${m.destination ?? ''} ${m.payload}`,
    ),
    group: overview.data?.groups.find((g) => g.group === state.group),
  };
  const pollError = overview.error ?? (onDlqList ? dlqs.error : null) ?? messages.error ?? trace.error;
  return {
    rows,
    components: overview.data?.components ?? [],
    history,
    refreshedAt: overview.at ? overview.at.toISOString().slice(11, 19) : null,
    trace: trace.data,
    browse: messages.data ? { shown: messages.data.messages.length, total: messages.data.total } : null,
    status: state.status ?? (pollError ? toStatusMessage(pollError) : null),
  };
}

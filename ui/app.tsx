import React, { useCallback, useReducer, useRef } from 'react';
import { Box, useApp, useInput, type Key } from 'ink';
import { actionFor } from './keys.js';
import { toStatusMessage, type ConsoleOps, type RedriveRequest } from './model.js';
import { applyFilter, initialState, reduce, type ConsoleState, type PromptKind } from './state.js';
import { usePoll } from './hooks/use-poll.js';
import { useHistory } from './hooks/use-history.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { Overview, sortGroups, sortQueues } from './components/overview.js';
import { GroupDetail } from './components/group-detail.js';
import { DlqList, DlqMessages } from './components/dlq.js';
import { Header, HelpOverlay, StatusLine, TraceScreen } from './components/chrome.js';

export interface AppProps {
  ops: ConsoleOps;
  refreshMs: number;
  /** Opens the text in $EDITOR and returns the edited text (null when unchanged or aborted). */
  edit: (text: string) => Promise<string | null>;
  initial?: Partial<ConsoleState>;
}

const DLQ_PAGE = 200;

export function App({ ops, refreshMs, edit, initial }: AppProps) {
  const [state, dispatch] = useReducer(reduce, { ...initialState, ...initial });
  const { exit } = useApp();
  const { width, height } = useTerminalSize();
  const edits = useRef<Record<string, string>>({});
  // Keys can arrive faster than React re-renders: the prompt's text lives in a ref too, so a
  // keypress never appends to a stale copy.
  const promptText = useRef('');
  const promptKind = useRef<PromptKind | null>(null);
  const openPrompt = (kind: PromptKind, label: string, text = '') => {
    promptText.current = text;
    promptKind.current = kind;
    dispatch({ type: 'prompt', kind, label, text });
  };
  const closePrompt = () => {
    promptKind.current = null;
    dispatch({ type: 'promptCancel' });
  };

  const overview = usePoll(() => ops.overview(), refreshMs, true, state.refreshTick);
  const onDlqScreens = state.screen === 'dlqs' || state.screen === 'dlqMessages';
  const dlqs = usePoll(() => ops.dlqs(), refreshMs, onDlqScreens, state.refreshTick);
  const messages = usePoll(
    () => ops.dlqMessages(state.dlq ?? '', DLQ_PAGE),
    refreshMs,
    state.screen === 'dlqMessages' && state.dlq !== null,
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
  const lagByGroup = overview.data
    ? Object.fromEntries(overview.data.groups.map((g) => [g.group, g.totalLag]))
    : null;
  const history = useHistory(lagByGroup, overview.at);

  const groups = sortGroups(applyFilter(overview.data?.groups ?? [], state.filter, (g) => g.group));
  const queues = sortQueues(applyFilter(overview.data?.queues ?? [], state.filter, (q) => q.name));
  const dlqRows = applyFilter(dlqs.data ?? [], state.filter, (d) => d.name);
  const messageRows = applyFilter(
    messages.data ?? [],
    state.filter,
    (m) => `${m.id} ${m.errorClass ?? ''} ${m.destination ?? ''} ${m.payload}`,
  );
  const group = overview.data?.groups.find((g) => g.group === state.group);
  // Input handlers read what was last rendered through this ref: a key pressed right after a
  // frame appears must act on that frame, even before React re-subscribes the handler.
  const live = useRef({ state, groups, queues, dlqRows, messageRows, group });
  live.current = { state, groups, queues, dlqRows, messageRows, group };

  const run = useCallback(async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (e) {
      dispatch({ type: 'status', status: toStatusMessage(e) });
    }
  }, []);

  const planRedrive = (request: RedriveRequest) =>
    run(async () => {
      const preview = await ops.planRedrive(request);
      dispatch({ type: 'pending', pending: { kind: 'redrive', request, preview } });
      openPrompt('confirm', `redrive ${preview.toRedrive} message(s)? type yes:`);
    });

  const redriveBase = (): RedriveRequest => ({
    dlq: live.current.state.dlq ?? '',
    ...(live.current.state.selected.length > 0 ? { ids: live.current.state.selected } : {}),
    ...(Object.keys(edits.current).length > 0 ? { edits: { ...edits.current } } : {}),
  });

  const submitPrompt = (text: string) => {
    const kind = promptKind.current;
    if (!kind) return;
    const { state, dlqRows, group } = live.current;
    closePrompt();
    switch (kind) {
      case 'filter':
        dispatch({ type: 'setFilter', filter: text });
        return;
      case 'traceId':
        if (text.trim()) dispatch({ type: 'setTrace', orderId: text.trim() });
        return;
      case 'fixUrl': {
        const m = /^(\S+)=(\S+)$/.exec(text.trim());
        if (!m) {
          dispatch({
            type: 'status',
            status: {
              kind: 'error',
              text: `error[BAD_FIX_URL]: expected OLD=NEW, got '${text}'`,
              hint: 'u, then e.g. http://partner/v1=http://partner/v2',
            },
          });
          return;
        }
        void planRedrive({ ...redriveBase(), fixUrl: { from: m[1] ?? '', to: m[2] ?? '' } });
        return;
      }
      case 'purgeConfirm': {
        const dlq = state.screen === 'dlqs' ? dlqRows[state.cursor.dlqs]?.name : state.dlq;
        if (!dlq || text !== dlq) {
          dispatch({
            type: 'status',
            status: { kind: 'info', text: 'name did not match; nothing was purged' },
          });
          return;
        }
        void run(async () => {
          const r = await ops.purge(dlq);
          dispatch({
            type: 'status',
            status: { kind: 'ok', text: `purged ${r.removed} message(s) from ${dlq} (audit record written)` },
          });
          dispatch({ type: 'refresh' });
        });
        return;
      }
      case 'resetStrategy': {
        const strategy = text.trim();
        const topic = group?.partitions[0]?.topic;
        if ((strategy !== 'earliest' && strategy !== 'latest') || !group || !topic) {
          dispatch({
            type: 'status',
            status: {
              kind: 'error',
              text: `error[BAD_STRATEGY]: earliest or latest, got '${text}'`,
              hint: 'orderbus offsets reset --help for every strategy',
            },
          });
          return;
        }
        void run(async () => {
          const plan = await ops.planReset(group.group, topic, strategy);
          dispatch({ type: 'pending', pending: { kind: 'reset', plan } });
          openPrompt('confirm', `type the group name (${group.group}) to execute:`);
        });
        return;
      }
      case 'confirm': {
        const pending = state.pending;
        if (!pending) return;
        if (pending.kind === 'redrive') {
          if (text !== 'yes') {
            dispatch({ type: 'pending', pending: null });
            dispatch({
              type: 'status',
              status: { kind: 'info', text: 'not confirmed; nothing was redriven' },
            });
            return;
          }
          void run(async () => {
            const out = await ops.executeRedrive(pending.request, (done, total) =>
              dispatch({ type: 'progress', progress: { done, total } }),
            );
            edits.current = {};
            dispatch({ type: 'progress', progress: null });
            dispatch({ type: 'pending', pending: null });
            dispatch({
              type: 'status',
              status: {
                kind: out.failed > 0 ? 'error' : 'ok',
                text: `redriven ${out.redriven}, failed ${out.failed}, left in the DLQ ${out.remaining}`,
              },
            });
            dispatch({ type: 'refresh' });
          });
          return;
        }
        if (text !== pending.plan.group) {
          dispatch({ type: 'pending', pending: null });
          dispatch({
            type: 'status',
            status: { kind: 'info', text: 'name did not match; offsets unchanged' },
          });
          return;
        }
        void run(async () => {
          await ops.executeReset(pending.plan);
          dispatch({ type: 'pending', pending: null });
          dispatch({
            type: 'status',
            status: {
              kind: 'ok',
              text: `offsets of ${pending.plan.group} reset to ${pending.plan.strategy}`,
            },
          });
          dispatch({ type: 'refresh' });
        });
        return;
      }
    }
  };

  const handleKey = (input: string, key: Key) => {
    const { state, groups, queues, dlqRows, messageRows, group } = live.current;
    if (promptKind.current) {
      if (key.return) submitPrompt(promptText.current);
      else if (key.escape) {
        closePrompt();
        if (state.pending) dispatch({ type: 'back' });
      } else {
        if (key.backspace || key.delete) promptText.current = promptText.current.slice(0, -1);
        else if (!key.ctrl && !key.meta && input) promptText.current += input;
        dispatch({ type: 'promptInput', text: promptText.current });
      }
      return;
    }
    const action = actionFor(input, key);
    const rows =
      state.screen === 'overview'
        ? state.panel === 'groups'
          ? groups.length
          : queues.length
        : state.screen === 'group'
          ? (group?.partitions.length ?? 0)
          : state.screen === 'dlqs'
            ? dlqRows.length
            : messageRows.length;
    switch (action) {
      case 'quit':
        exit();
        return;
      case 'help':
        dispatch({ type: 'toggleHelp' });
        return;
      case 'refresh':
        dispatch({ type: 'refresh' });
        return;
      case 'filter':
        openPrompt('filter', 'filter:', state.filter);
        return;
      case 'up':
        dispatch({ type: 'move', delta: -1, rows });
        return;
      case 'down':
        dispatch({ type: 'move', delta: 1, rows });
        return;
      case 'nextPanel':
        dispatch({ type: 'nextPanel' });
        return;
      case 'back':
        dispatch({ type: 'back' });
        return;
      case 'screenOverview':
        dispatch({ type: 'show', screen: 'overview' });
        return;
      case 'screenDlq':
        dispatch({ type: 'show', screen: 'dlqs' });
        return;
      case 'screenTrace':
        openPrompt('traceId', 'order id:');
        return;
      case 'open': {
        if (state.screen === 'overview' && state.panel === 'groups') {
          const g = groups[state.cursor.groups];
          if (g) dispatch({ type: 'openGroup', group: g.group });
        } else if (state.screen === 'overview') {
          const q = queues[state.cursor.queues];
          if (q) dispatch({ type: 'openDlq', dlq: q.name.endsWith('.dlq') ? q.name : `${q.name}.dlq` });
        } else if (state.screen === 'dlqs') {
          const d = dlqRows[state.cursor.dlqs];
          if (d) dispatch({ type: 'openDlq', dlq: d.name });
        }
        return;
      }
      case 'toggleSelect': {
        const m = messageRows[state.cursor.dlqMessages];
        if (state.screen === 'dlqMessages' && m) dispatch({ type: 'toggleSelect', id: m.id });
        return;
      }
      case 'redriveSelected':
        if (state.screen === 'dlqMessages') {
          const current = messageRows[state.cursor.dlqMessages];
          const ids = state.selected.length > 0 ? state.selected : current ? [current.id] : [];
          if (ids.length > 0) void planRedrive({ ...redriveBase(), ids });
        }
        return;
      case 'redriveAll':
        if (state.screen === 'dlqMessages') {
          const { ids: _ids, ...all } = redriveBase();
          void planRedrive(all);
        }
        return;
      case 'fixUrl':
        if (state.screen === 'dlqMessages') openPrompt('fixUrl', 'fix URL prefix OLD=NEW:');
        return;
      case 'edit': {
        const m = messageRows[state.cursor.dlqMessages];
        if (state.screen !== 'dlqMessages' || !m) return;
        void run(async () => {
          const edited = await edit(edits.current[m.id] ?? m.payload);
          if (edited === null) {
            dispatch({ type: 'status', status: { kind: 'info', text: 'payload unchanged' } });
            return;
          }
          edits.current[m.id] = edited;
          await planRedrive({ dlq: state.dlq ?? '', ids: [m.id], edits: { [m.id]: edited } });
        });
        return;
      }
      case 'purge':
        if (state.screen === 'dlqs' || state.screen === 'dlqMessages')
          openPrompt('purgeConfirm', 'type the DLQ name to purge it:');
        return;
      case 'resetOffsets':
        if (state.screen === 'group' && group) openPrompt('resetStrategy', 'reset to (earliest|latest):');
        return;
      default:
        return;
    }
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

  const pollError = overview.error ?? (onDlqScreens ? dlqs.error : null) ?? messages.error ?? trace.error;
  const status = state.status ?? (pollError ? toStatusMessage(pollError) : null);
  const bodyHeight = Math.max(6, height - 3);
  return (
    <Box flexDirection="column" width={width}>
      <Header
        screen={state.screen}
        refreshedAt={overview.at ? overview.at.toISOString().slice(11, 19) : null}
        filter={state.filter}
        width={width}
      />
      {state.help ? (
        <HelpOverlay />
      ) : state.screen === 'overview' ? (
        <Overview
          groups={groups}
          queues={queues}
          components={overview.data?.components ?? []}
          history={history}
          panel={state.panel}
          cursor={{ groups: state.cursor.groups, queues: state.cursor.queues }}
          width={width}
          height={bodyHeight}
        />
      ) : state.screen === 'group' ? (
        <GroupDetail
          group={group}
          cursor={state.cursor.group}
          plan={state.pending?.kind === 'reset' ? state.pending.plan : null}
          height={bodyHeight}
        />
      ) : state.screen === 'dlqs' ? (
        <DlqList dlqs={dlqRows} cursor={state.cursor.dlqs} width={width} />
      ) : state.screen === 'dlqMessages' ? (
        <DlqMessages
          dlq={state.dlq ?? ''}
          messages={messageRows}
          cursor={state.cursor.dlqMessages}
          selected={state.selected}
          preview={state.pending?.kind === 'redrive' ? state.pending.preview : null}
          progress={state.progress}
          width={width}
          height={bodyHeight}
        />
      ) : (
        <TraceScreen trace={trace.data} width={width} />
      )}
      <StatusLine status={status} prompt={state.prompt} width={width} />
    </Box>
  );
}

import React, { useRef } from 'react';
import { Box, useApp } from 'ink';
import type { Action } from './keys.js';
import type { ConsoleOps } from './model.js';
import {
  currentRow,
  cursorIndexes,
  initialState,
  openEvent,
  reduce,
  rowKeys,
  type ConsoleState,
} from './state.js';
import { useConsoleActions, type LiveScreen } from './hooks/use-console-actions.js';
import { useConsoleData } from './hooks/use-console-data.js';
import { useKeyBindings } from './hooks/use-key-bindings.js';
import { useLiveReducer } from './hooks/use-live-reducer.js';
import { usePrompt } from './hooks/use-prompt.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { Overview } from './components/overview.js';
import { GroupDetail } from './components/group-detail.js';
import { DlqList, DlqMessages } from './components/dlq.js';
import { Header, HelpOverlay, StatusLine, TraceScreen, statusLines } from './components/chrome.js';

export interface AppProps {
  ops: ConsoleOps;
  refreshMs: number;
  /** Opens the text in $EDITOR and returns the edited text (null when unchanged or aborted). */
  edit: (text: string) => Promise<string | null>;
  initial?: Partial<ConsoleState>;
}

/**
 * The console: screen state in the reducer (ui/state.ts), data from the polls, workflows in
 * useConsoleActions, keys through the binding table; this component only wires them and renders.
 */
export function App({ ops, refreshMs, edit, initial }: AppProps) {
  const [current, dispatch] = useLiveReducer(reduce, { ...initialState, ...initial });
  const state = current.current;
  const { exit } = useApp();
  const { width, height } = useTerminalSize();
  const data = useConsoleData(ops, state, refreshMs);
  const { rows } = data;
  // Keys act on the rows last rendered and on the state the keys before them made (a burst of
  // keys arrives before the next frame), so `j j j j Enter` opens the row the j's reached.
  const live = useRef<LiveScreen>({ state, ...rows });
  live.current = {
    get state() {
      return current.current;
    },
    ...rows,
  };
  const prompt = usePrompt(dispatch);
  const actions = useConsoleActions({ ops, edit, dispatch, live, prompt });
  const move = (delta: number) =>
    dispatch({ type: 'move', delta, keys: rowKeys(live.current.state, live.current) });
  const cursor = cursorIndexes(state, rows);

  const handlers: Record<Action, () => void> = {
    quit: exit,
    help: () => dispatch({ type: 'toggleHelp' }),
    refresh: () => dispatch({ type: 'refresh' }),
    filter: () => prompt.open('filter', 'filter:', live.current.state.filter),
    up: () => move(-1),
    down: () => move(1),
    open: () => {
      const event = openEvent(live.current.state, live.current);
      if (event) dispatch(event);
    },
    back: () => {
      if (!actions.cancelPlanning()) dispatch({ type: 'back' });
    },
    nextPanel: () => dispatch({ type: 'nextPanel' }),
    screenOverview: () => dispatch({ type: 'show', screen: 'overview' }),
    screenDlq: () => dispatch({ type: 'show', screen: 'dlqs' }),
    screenTrace: () => prompt.open('traceId', 'order id:'),
    toggleSelect: () => {
      const { state: s, messageRows } = live.current;
      const m = currentRow(messageRows, s.cursor.dlqMessages, (x) => x.id);
      if (s.screen === 'dlqMessages' && m) dispatch({ type: 'toggleSelect', id: m.id });
    },
    redriveSelected: actions.redriveSelected,
    redriveAll: actions.redriveAll,
    fixUrl: actions.fixUrl,
    edit: actions.edit,
    purge: actions.purge,
    resetOffsets: actions.resetOffsets,
  };
  useKeyBindings({
    actions: handlers,
    prompt,
    onSubmit: actions.submitPrompt,
    onCancel: actions.cancelPrompt,
  });

  const bodyHeight = Math.max(
    6,
    height - 1 - statusLines(data.status, !state.prompt && !state.planning, width),
  );
  return (
    <Box flexDirection="column" width={width}>
      <Header screen={state.screen} refreshedAt={data.refreshedAt} filter={state.filter} width={width} />
      {state.help ? (
        <HelpOverlay />
      ) : state.screen === 'overview' ? (
        <Overview
          groups={rows.groups}
          queues={rows.queues}
          components={data.components}
          history={data.history}
          panel={state.panel}
          cursor={{ groups: cursor.groups, queues: cursor.queues }}
          width={width}
          height={bodyHeight}
        />
      ) : state.screen === 'group' ? (
        <GroupDetail
          group={rows.group}
          cursor={cursor.group}
          plan={state.pending?.kind === 'reset' ? state.pending.plan : null}
          width={width}
          height={bodyHeight}
        />
      ) : state.screen === 'dlqs' ? (
        <DlqList dlqs={rows.dlqRows} cursor={cursor.dlqs} width={width} height={bodyHeight} />
      ) : state.screen === 'dlqMessages' ? (
        <DlqMessages
          dlq={state.dlq ?? ''}
          messages={rows.messageRows}
          browse={data.browse}
          cursor={cursor.dlqMessages}
          selected={state.selected}
          preview={state.pending?.kind === 'redrive' ? state.pending.preview : null}
          progress={state.progress}
          width={width}
          height={bodyHeight}
        />
      ) : (
        <TraceScreen trace={data.trace} width={width} />
      )}
      <StatusLine status={data.status} prompt={state.prompt} planning={state.planning} width={width} />
    </Box>
  );
}

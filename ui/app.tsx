import React, { useReducer, useRef } from 'react';
import { Box, useApp } from 'ink';
import type { Action } from './keys.js';
import type { ConsoleOps } from './model.js';
import { initialState, openEvent, reduce, rowCount, type ConsoleState } from './state.js';
import { useConsoleActions, type LiveScreen } from './hooks/use-console-actions.js';
import { useConsoleData } from './hooks/use-console-data.js';
import { useKeyBindings } from './hooks/use-key-bindings.js';
import { usePrompt } from './hooks/use-prompt.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { Overview } from './components/overview.js';
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

/**
 * The console: screen state in the reducer (ui/state.ts), data from the polls, workflows in
 * useConsoleActions, keys through the binding table; this component only wires them and renders.
 */
export function App({ ops, refreshMs, edit, initial }: AppProps) {
  const [state, dispatch] = useReducer(reduce, { ...initialState, ...initial });
  const { exit } = useApp();
  const { width, height } = useTerminalSize();
  const data = useConsoleData(ops, state, refreshMs);
  const { rows } = data;
  // Keys act on what was last rendered, even before React re-subscribes the input handler.
  const live = useRef<LiveScreen>({ state, ...rows });
  live.current = { state, ...rows };
  const prompt = usePrompt(dispatch);
  const actions = useConsoleActions({ ops, edit, dispatch, live, prompt });
  const move = (delta: number) =>
    dispatch({ type: 'move', delta, rows: rowCount(live.current.state, live.current) });

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
    back: () => dispatch({ type: 'back' }),
    nextPanel: () => dispatch({ type: 'nextPanel' }),
    screenOverview: () => dispatch({ type: 'show', screen: 'overview' }),
    screenDlq: () => dispatch({ type: 'show', screen: 'dlqs' }),
    screenTrace: () => prompt.open('traceId', 'order id:'),
    toggleSelect: () => {
      const { state: s, messageRows } = live.current;
      const m = messageRows[s.cursor.dlqMessages];
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

  const bodyHeight = Math.max(6, height - 3);
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
          cursor={{ groups: state.cursor.groups, queues: state.cursor.queues }}
          width={width}
          height={bodyHeight}
        />
      ) : state.screen === 'group' ? (
        <GroupDetail
          group={rows.group}
          cursor={state.cursor.group}
          plan={state.pending?.kind === 'reset' ? state.pending.plan : null}
          height={bodyHeight}
        />
      ) : state.screen === 'dlqs' ? (
        <DlqList dlqs={rows.dlqRows} cursor={state.cursor.dlqs} width={width} />
      ) : state.screen === 'dlqMessages' ? (
        <DlqMessages
          dlq={state.dlq ?? ''}
          messages={rows.messageRows}
          cursor={state.cursor.dlqMessages}
          selected={state.selected}
          preview={state.pending?.kind === 'redrive' ? state.pending.preview : null}
          progress={state.progress}
          width={width}
          height={bodyHeight}
        />
      ) : (
        <TraceScreen trace={data.trace} width={width} />
      )}
      <StatusLine status={data.status} prompt={state.prompt} width={width} />
    </Box>
  );
}

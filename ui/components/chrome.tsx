import React from 'react';
import { Box } from 'ink';
import { BINDINGS } from '../keys.js';
import type { StatusMessage } from '../model.js';
import type { Prompt, Screen } from '../state.js';
import type { TraceView } from '../model.js';
import { fit } from './format.js';
import { CText } from './theme.js';

const TITLES: Record<Screen, string> = {
  overview: 'overview',
  group: 'group detail',
  dlqs: 'dead letters',
  dlqMessages: 'dead letters',
  trace: 'trace',
};

export function Header({
  screen,
  refreshedAt,
  filter,
  width,
}: {
  screen: Screen;
  refreshedAt: string | null;
  filter: string;
  width: number;
}) {
  const left = `orderbus console · ${TITLES[screen]}${filter ? ` · filter: ${filter}` : ''}`;
  const right = `${refreshedAt ? `refreshed ${refreshedAt}` : 'loading…'} · ? help`;
  return (
    <CText bold>
      {fit(left, Math.max(10, width - right.length - 1))} {right}
    </CText>
  );
}

export function StatusLine({
  status,
  prompt,
  width,
}: {
  status: StatusMessage | null;
  prompt: Prompt | null;
  width: number;
}) {
  if (prompt) {
    return (
      <CText>
        {prompt.label} <CText bold>{prompt.text}</CText>█
      </CText>
    );
  }
  if (!status)
    return (
      <CText dimColor>
        {fit('q quit · r refresh · / filter · tab panel · 1 overview · 2 dead letters · 3 trace', width)}
      </CText>
    );
  const color = status.kind === 'error' ? 'red' : status.kind === 'ok' ? 'green' : undefined;
  return (
    <Box flexDirection="column">
      <CText color={color}>{fit(status.text, width)}</CText>
      {status.hint ? <CText dimColor>{fit(`hint: ${status.hint}`, width)}</CText> : null}
    </Box>
  );
}

export function HelpOverlay() {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <CText bold>keys</CText>
      {BINDINGS.map((b) => (
        <CText key={b.action}>
          {fit(b.keys, 8)} {b.description}
        </CText>
      ))}
      <CText dimColor>esc or ? closes this help</CText>
    </Box>
  );
}

export function TraceScreen({ trace, width }: { trace: TraceView | null; width: number }) {
  if (!trace) return <CText dimColor>press t and type an order id</CText>;
  return (
    <Box flexDirection="column">
      <CText bold>
        order {trace.orderId} · status {trace.status ?? 'unknown'}
      </CText>
      {trace.entries.length === 0 ? <CText dimColor>nothing found for this order</CText> : null}
      {trace.entries.map((e, i) => (
        <CText key={i}>
          {fit(e.at ?? '-', 24)} {fit(e.where, 22)} {fit(e.what, Math.max(10, width - 49))}
        </CText>
      ))}
    </Box>
  );
}

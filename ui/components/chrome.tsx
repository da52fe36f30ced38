import React from 'react';
import { Box } from 'ink';
import { BINDINGS } from '../keys.js';
import type { StatusMessage } from '../model.js';
import type { Planning, Prompt, Screen } from '../state.js';
import type { TraceView } from '../model.js';
import { fit, humanNumber } from './format.js';
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

/** A status (a refusal's reason) may take two lines: cut, it would hide what the operator needs. */
const STATUS_TEXT_LINES = 2;

/** Lines the status line takes: the body gets the rest of the terminal. */
export function statusLines(status: StatusMessage | null, showsStatus: boolean, width: number): number {
  if (!status || !showsStatus) return 1;
  const text = Math.min(STATUS_TEXT_LINES, Math.max(1, Math.ceil(status.text.length / Math.max(1, width))));
  return text + (status.hint ? 1 : 0);
}

export function StatusLine({
  status,
  prompt,
  planning,
  width,
}: {
  status: StatusMessage | null;
  prompt: Prompt | null;
  planning: Planning | null;
  width: number;
}) {
  if (planning) {
    const scanned =
      planning.total > 0
        ? `scanned ${humanNumber(planning.scanned)} of ${humanNumber(planning.total)}`
        : 'counting the dead letters';
    return <CText>{fit(`planning the redrive of ${planning.dlq}… ${scanned} · esc cancels`, width)}</CText>;
  }
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
      <CText color={color}>{fit(status.text, width * STATUS_TEXT_LINES).trimEnd()}</CText>
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
  // Places (topic/partition@offset, DLQ and id) are never cut: the description gets what is left.
  const whereWidth = Math.min(
    Math.max(10, width - 40),
    Math.max(5, ...trace.entries.map((e) => e.where.length)),
  );
  const groupWidth = Math.min(40, Math.max(5, ...trace.groups.map((g) => g.group.length)));
  return (
    <Box flexDirection="column">
      <CText bold>
        {fit(
          `order ${trace.orderId} · status ${trace.status ?? 'not in the database'} · ${trace.topic}/${trace.partition}`,
          width,
        )}
      </CText>
      {trace.entries.length === 0 ? <CText dimColor>nothing found for this order</CText> : null}
      {trace.entries.map((e, i) => (
        <CText key={i}>
          {fit(e.at ?? '-', 24)} {fit(e.where, whereWidth)}{' '}
          {fit(e.what, Math.max(10, width - 26 - whereWidth))}
        </CText>
      ))}
      {trace.groups.length > 0 ? (
        <CText bold>
          {fit('GROUP', groupWidth)} {fit('COMMITTED', 10, 'right')} NOT YET SEEN
        </CText>
      ) : null}
      {trace.groups.map((g) => (
        <CText key={g.group}>
          {fit(g.group, groupWidth)} {fit(String(g.committed ?? '-'), 10, 'right')}{' '}
          {fit(
            g.unseen.length ? g.unseen.map((u) => `${u.type}@${u.offset}`).join(', ') : 'all seen',
            Math.max(10, width - groupWidth - 12),
          )}
        </CText>
      ))}
      {trace.unavailable.map((u) => (
        <CText key={u.source} color="yellow">
          {fit(`! ${u.source} unavailable: ${u.error}`, width)}
        </CText>
      ))}
    </Box>
  );
}

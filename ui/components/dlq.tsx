import React from 'react';
import { Box } from 'ink';
import type { DlqMessageView, DlqView, RedrivePreview } from '../model.js';
import { fit, humanNumber, rowsIn, windowOf } from './format.js';
import { MoreLine } from './more.js';
import { CText } from './theme.js';

export function DlqList({
  dlqs,
  cursor,
  width = 80,
  height = 21,
}: {
  dlqs: DlqView[];
  cursor: number;
  width?: number;
  height?: number;
}) {
  // Names get the room a wider terminal has.
  const nameWidth = Math.max(28, Math.min(60, width - 52));
  // Column heads and the key hint take two lines.
  const w = windowOf(dlqs, cursor, rowsIn(dlqs.length, Math.max(2, height - 2)));
  return (
    <Box flexDirection="column">
      <CText bold>
        {fit('DEAD-LETTER QUEUE', nameWidth)} {fit('KIND', 8)} {fit('COUNT', 7, 'right')} {fit('NEWEST', 20)}{' '}
        BY FAILURE CLASS
      </CText>
      {dlqs.length === 0 ? <CText dimColor>no dead-letter destinations</CText> : null}
      {w.rows.map((d, i) => (
        <CText key={d.name} inverse={w.start + i === cursor}>
          {fit(d.name, nameWidth)} {fit(d.kind, 8)}{' '}
          <CText color={d.count > 0 ? 'red' : 'green'}>{fit(humanNumber(d.count), 7, 'right')}</CText>{' '}
          {fit(d.newest ?? '-', 20)}{' '}
          {Object.entries(d.byClass)
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => `${k}:${v}`)
            .join(' ')}
        </CText>
      ))}
      <MoreLine hidden={w.hidden} />
      <CText dimColor>enter: browse · P: purge</CText>
    </Box>
  );
}

export function DlqMessages({
  dlq,
  messages,
  browse,
  cursor,
  selected,
  preview,
  progress,
  width,
  height,
}: {
  dlq: string;
  messages: DlqMessageView[];
  /** Null while the first page loads. */
  browse: { shown: number; total: number } | null;
  cursor: number;
  selected: string[];
  preview: RedrivePreview | null;
  progress: { done: number; total: number } | null;
  width: number;
  height: number;
}) {
  const current = messages[cursor];
  const idWidth = Math.max(10, Math.min(40, width - 70));
  const w = windowOf(messages, cursor, rowsIn(messages.length, Math.max(3, Math.floor((height - 6) / 2))));
  const listRows = w.rows.length + (w.hidden > 0 ? 1 : 0);
  // The page is the first letters of the DLQ; the total counts the letters a browse or plan holds too.
  const counted = browse
    ? `${humanNumber(messages.length)} of ${humanNumber(Math.max(browse.total, browse.shown))} shown`
    : 'loading…';
  return (
    <Box flexDirection="column">
      <CText bold>
        {dlq}: {counted} · {selected.length} selected
      </CText>
      {w.rows.map((m, i) => (
        <CText key={m.id} inverse={w.start + i === cursor}>
          {selected.includes(m.id) ? '[x]' : '[ ]'} {fit(m.id, idWidth)} {fit(m.errorClass ?? '-', 16)}{' '}
          {fit(String(m.attempts ?? '-'), 3, 'right')}{' '}
          {fit(m.destination ?? '-', Math.max(10, width - 30 - idWidth))}
        </CText>
      ))}
      <MoreLine hidden={w.hidden} />
      {preview ? (
        <RedrivePreviewBox
          preview={preview}
          progress={progress}
          width={width}
          height={Math.max(4, height - listRows - 6)}
        />
      ) : current ? (
        <Box flexDirection="column" borderStyle="single" paddingX={1}>
          <CText>
            <CText bold>error</CText> {current.errorClass ?? '-'}:{' '}
            {fit(current.errorMessage ?? '-', width - 20)}
          </CText>
          <CText>
            <CText bold>to</CText> {current.destination ?? '-'} · <CText bold>attempts</CText>{' '}
            {current.attempts ?? '-'}
          </CText>
          <CText>{fit(current.payload.replace(/\s+/g, ' '), Math.max(20, (width - 4) * 2))}</CText>
        </Box>
      ) : (
        <CText dimColor>{emptyText(browse)}</CText>
      )}
      <CText dimColor>
        space: select · R: redrive selected · A: redrive all · u: fix URL · e: edit · P: purge
      </CText>
    </Box>
  );
}

export function RedrivePreviewBox({
  preview,
  progress,
  width,
  height,
}: {
  preview: RedrivePreview;
  progress: { done: number; total: number } | null;
  width: number;
  height: number;
}) {
  const barWidth = Math.max(10, width - 30);
  return (
    <Box flexDirection="column" borderStyle="single" paddingX={1}>
      <CText bold>
        DRY RUN: {preview.toRedrive} to redrive · {preview.unchanged} unchanged · {preview.invalid} invalid
      </CText>
      {preview.diffs
        .flatMap((d) => d.split('\n'))
        .slice(0, Math.max(1, height - 3))
        .map((d, i) => (
          <CText key={i}>{fit(d, width - 4)}</CText>
        ))}
      {progress ? (
        <CText>
          [
          {'#'
            .repeat(Math.round((progress.done / Math.max(1, progress.total)) * barWidth))
            .padEnd(barWidth, '.')}
          ] {progress.done}/{progress.total}
        </CText>
      ) : (
        <CText>type yes and enter to redrive; esc cancels</CText>
      )}
    </Box>
  );
}

/** What the browse says when it shows no letter: loading, empty, or every letter held elsewhere. */
function emptyText(browse: { shown: number; total: number } | null): string {
  if (!browse) return 'loading…';
  if (browse.total === 0) return 'this dead-letter queue is empty';
  return `${humanNumber(browse.total)} dead letter(s), all held unacknowledged by another reader (a browse or a plan)`;
}

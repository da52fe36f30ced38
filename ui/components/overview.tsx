import React, { memo } from 'react';
import { Box } from 'ink';
import type { ComponentView, GroupView, QueueView } from '../model.js';
import {
  fit,
  humanDuration,
  humanNumber,
  rate,
  rowsIn,
  severity,
  sparkline,
  splitRoom,
  statusColor,
  windowOf,
} from './format.js';
import { MoreLine } from './more.js';
import { CText } from './theme.js';

export interface OverviewProps {
  /** Sorted (sortGroups, sortQueues) and filtered: the rows the cursor indexes. */
  groups: GroupView[];
  queues: QueueView[];
  components: ComponentView[];
  history: Record<string, number[]>;
  panel: 'groups' | 'queues';
  cursor: { groups: number; queues: number };
  width: number;
  height: number;
}

/** Worst first: status severity, then lag. */
export function sortGroups(groups: GroupView[]): GroupView[] {
  return [...groups].sort(
    (a, b) =>
      severity(b.status) - severity(a.status) || b.totalLag - a.totalLag || a.group.localeCompare(b.group),
  );
}

export function sortQueues(queues: QueueView[]): QueueView[] {
  return [...queues].sort(
    (a, b) => (b.dlqDepth ?? 0) - (a.dlqDepth ?? 0) || b.ready - a.ready || a.name.localeCompare(b.name),
  );
}

const GroupRow = memo(function GroupRow({
  g,
  selected,
  spark,
  nameWidth,
  sparkWidth,
}: {
  g: GroupView;
  selected: boolean;
  spark: string;
  nameWidth: number;
  sparkWidth: number;
}) {
  return (
    <CText inverse={selected}>
      {fit(g.group, nameWidth)} <CText color={statusColor(g.status)}>{fit(g.status, 6)}</CText>{' '}
      {fit(humanNumber(g.totalLag), 7, 'right')} {fit(humanDuration(g.timeLagMs), 7, 'right')}{' '}
      {fit(g.etaSeconds === null ? '-' : humanDuration(g.etaSeconds * 1000), 7, 'right')}{' '}
      {fit(spark, sparkWidth)}
    </CText>
  );
});

const QueueRow = memo(function QueueRow({
  q,
  selected,
  nameWidth,
}: {
  q: QueueView;
  selected: boolean;
  nameWidth: number;
}) {
  // A Kafka DLQ topic: its outstanding letters under READY; it has no unacked count or rates.
  const kafka = q.type === 'kafka';
  return (
    <CText inverse={selected}>
      {fit(kafka ? `${q.name} (kafka)` : q.name, nameWidth)} {fit(humanNumber(q.ready), 7, 'right')}{' '}
      {fit(kafka ? '-' : humanNumber(q.unacked), 7, 'right')}{' '}
      {fit(kafka ? '-' : rate(q.publishRate), 8, 'right')} {fit(kafka ? '-' : rate(q.ackRate), 8, 'right')}{' '}
      <CText color={q.dlqDepth ? 'red' : undefined}>{fit(humanNumber(q.dlqDepth), 6, 'right')}</CText>
    </CText>
  );
});

export function Overview({
  groups,
  queues,
  components,
  history,
  panel,
  cursor,
  width,
  height,
}: OverviewProps) {
  const sparkWidth = Math.max(8, Math.min(30, width - 60));
  const nameWidth = Math.max(12, Math.min(28, width - 40 - sparkWidth));
  // The component line and the two panel titles; every other line of the body is for rows.
  const [groupLines, queueLines] = splitRoom(Math.max(4, height - 3), groups.length, queues.length);
  const gw = windowOf(groups, cursor.groups, rowsIn(groups.length, groupLines));
  const qw = windowOf(queues, cursor.queues, rowsIn(queues.length, queueLines));
  return (
    <Box flexDirection="column">
      <Box>
        {components.map((c) => (
          <CText key={c.name}>
            {c.name} <CText color={statusColor(c.status)}>{c.status}</CText>
            {c.reason ? ` (${c.reason})` : ''}
            {'  '}
          </CText>
        ))}
      </Box>
      <CText bold underline={panel === 'groups'}>
        {fit(`CONSUMER GROUPS (${groups.length})`, nameWidth)} {fit('STATUS', 6)} {fit('LAG', 7, 'right')}{' '}
        {fit('TIMELAG', 7, 'right')} {fit('ETA', 7, 'right')} {fit('LAG TREND', sparkWidth)}
      </CText>
      {gw.rows.length === 0 ? <CText dimColor>no consumer groups</CText> : null}
      {gw.rows.map((g, i) => (
        <GroupRow
          key={g.group}
          g={g}
          selected={panel === 'groups' && gw.start + i === cursor.groups}
          spark={sparkline(history[g.group] ?? [g.totalLag], sparkWidth)}
          nameWidth={nameWidth}
          sparkWidth={sparkWidth}
        />
      ))}
      <MoreLine hidden={gw.hidden} />
      <CText bold underline={panel === 'queues'}>
        {fit(`QUEUES (${queues.length})`, nameWidth)} {fit('READY', 7, 'right')} {fit('UNACKED', 7, 'right')}{' '}
        {fit('PUB', 8, 'right')} {fit('ACK', 8, 'right')} {fit('DLQ', 6, 'right')}
      </CText>
      {qw.rows.length === 0 ? <CText dimColor>no queues</CText> : null}
      {qw.rows.map((q, i) => (
        <QueueRow
          key={q.name}
          q={q}
          selected={panel === 'queues' && qw.start + i === cursor.queues}
          nameWidth={nameWidth}
        />
      ))}
      <MoreLine hidden={qw.hidden} />
    </Box>
  );
}

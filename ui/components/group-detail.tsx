import React from 'react';
import { Box } from 'ink';
import type { GroupView, ResetPlanView } from '../model.js';
import { fit, humanDuration, humanNumber, statusColor } from './format.js';
import { CText } from './theme.js';

export function GroupDetail({
  group,
  cursor,
  plan,
  width = 100,
  height,
}: {
  group: GroupView | undefined;
  cursor: number;
  plan: ResetPlanView | null;
  width?: number;
  height: number;
}) {
  // Every column but the owner's takes 72; the owner gets what the terminal has left, so rows never wrap.
  const ownerWidth = Math.max(6, Math.min(30, width - 72));
  if (!group) return <CText dimColor>group not found (it may have been deleted); esc to go back</CText>;
  const rows = group.partitions.slice(
    Math.max(0, cursor - (height - 8)),
    Math.max(0, cursor - (height - 8)) + Math.max(3, height - 7),
  );
  return (
    <Box flexDirection="column">
      <CText>
        <CText bold>{group.group}</CText> state {group.state} · members {group.members} ·{' '}
        <CText color={statusColor(group.status)}>{group.status}</CText> · lag {humanNumber(group.totalLag)} ·
        time lag {humanDuration(group.timeLagMs)}
      </CText>
      <CText bold>
        {fit('TOPIC', 18)} {fit('PART', 4, 'right')} {fit('COMMITTED', 10, 'right')} {fit('END', 10, 'right')}{' '}
        {fit('LAG', 8, 'right')} {fit('TIMELAG', 8, 'right')} {fit('STATUS', 6)} {fit('OWNER', ownerWidth)}
      </CText>
      {rows.map((p) => (
        <CText key={`${p.topic}-${p.partition}`} inverse={group.partitions.indexOf(p) === cursor}>
          {fit(p.topic, 18)} {fit(String(p.partition), 4, 'right')}{' '}
          {fit(p.committed === null ? '-' : String(p.committed), 10, 'right')}{' '}
          {fit(String(p.end), 10, 'right')} {fit(humanNumber(p.lag), 8, 'right')}{' '}
          {fit(humanDuration(p.timeLagMs), 8, 'right')}{' '}
          <CText color={statusColor(p.status)}>{fit(p.status, 6)}</CText> {fit(p.owner ?? '-', ownerWidth)}
        </CText>
      ))}
      {plan ? <ResetPlan plan={plan} /> : <CText dimColor>o: reset offsets (dry-run plan first)</CText>}
    </Box>
  );
}

export function ResetPlan({ plan }: { plan: ResetPlanView }) {
  const total = plan.rows.reduce((s, r) => s + r.delta, 0);
  return (
    <Box flexDirection="column" borderStyle="single" paddingX={1}>
      <CText bold>
        DRY RUN: reset {plan.group} on {plan.topic} to {plan.strategy}
      </CText>
      {plan.rows.map((r) => (
        <CText key={r.partition}>
          partition {r.partition}: {r.current ?? '-'} → {r.target} (
          {r.delta >= 0 ? `skip ${r.delta}` : `re-read ${-r.delta}`})
        </CText>
      ))}
      <CText>
        net {total >= 0 ? `skip ${total}` : `re-read ${-total}`} records. Type the group name and enter to
        execute; esc cancels.
      </CText>
    </Box>
  );
}

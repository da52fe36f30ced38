import { usageError } from '../errors.js';
import { LAG_STATUSES, severity, worstStatus } from './lag-rules.js';
import type { GroupLag, LagStatus } from './lag-types.js';
import type { StatusReport } from './status.js';

/**
 * `lag` and `status --fail-on LEVEL` for scripts and cron checks: exit 1 when the worst status
 * is at or above LEVEL, in the order of LAG_STATUSES (OK < WARN < REWIND < STALL < STOP < ERR).
 */
export function parseFailOn(v: string, command: string): LagStatus {
  const level = v.toUpperCase() as LagStatus;
  if (!LAG_STATUSES.includes(level) || level === 'OK')
    throw usageError(
      'BAD_FAIL_ON',
      `--fail-on takes one of ${LAG_STATUSES.filter((s) => s !== 'OK').join(', ')}; got '${v}'`,
      `orderbus ${command} --fail-on STALL`,
    );
  return level;
}

export const reaches = (status: LagStatus, level: LagStatus): boolean => severity(status) >= severity(level);

export const lagLevel = (groups: GroupLag[]): LagStatus => worstStatus(groups.map((g) => g.status));

/**
 * The status report as one level: its groups' worst, ERR for a component that is not up or a
 * broker that did not answer, WARN for dead letters waiting.
 */
export function statusLevel(r: StatusReport): LagStatus {
  const down = r.components.filter((c) => c.status !== 'up').length;
  const notOk = r.groups.filter((g) => g.status !== 'OK').length;
  const letters = r.dlqs.filter((d) => d.count > 0).length;
  // Problems no component, group or DLQ accounts for: Kafka or RabbitMQ did not answer.
  const unreachable = r.problems.length > down + notOk + letters;
  return worstStatus([
    lagLevel(r.groups),
    down > 0 || unreachable ? 'ERR' : 'OK',
    letters > 0 ? 'WARN' : 'OK',
  ]);
}

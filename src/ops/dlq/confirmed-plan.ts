import { ExitCode, OrderbusError, usageError } from '../../errors.js';
import { letterHash } from './plan.js';
import type { DlqMessage } from './types.js';

/**
 * Executing exactly what the operator confirmed. A plan id (`<letters>-<fingerprint>`, from a
 * dry run) names the selected dead letters in order with what each becomes; before anything
 * changes, the first `<letters>` of them are read again and must give the same id. The execute
 * then touches only those letters (by id and payload hash): arrivals since the plan wait for the
 * next run, and a letter someone else took meanwhile is reported missing.
 */
export interface ConfirmedPlan {
  id: string;
  /** How many letters the plan holds. */
  size: number;
}

export function parsePlanId(id: string, command: string): ConfirmedPlan {
  const m = /^(\d+)-[0-9a-f]{16}$/.exec(id);
  if (!m)
    throw usageError(
      'BAD_PLAN',
      `'${id}' is not a plan id (a dry run prints one, e.g. 12-3f9a0c1d2b4e5f60)`,
      `orderbus ${command} (a dry run), then --execute --plan <its id>`,
    );
  return { id, size: Number(m[1]) };
}

export function planChanged(dlq: string, plan: string, now: string, command: string): OrderbusError {
  return new OrderbusError(
    'PLAN_CHANGED',
    `the DLQ changed since the plan: ${dlq} now gives plan ${now || '(empty)'}, not ${plan}; nothing was changed`,
    {
      exitCode: ExitCode.unsafe,
      subject: dlq,
      hint: `orderbus ${command} (a new dry run), then --execute --plan <its id>`,
    },
  );
}

/** The letters of a plan, collected while it is checked; then the selector that takes only them. */
export class PlanLetters {
  private readonly letters = new Map<string, string>();
  private readonly found = new Set<string>();

  /** Wraps a selector so that every letter it selects is remembered. */
  collect(selects: (m: DlqMessage) => boolean): (m: DlqMessage) => boolean {
    return (m) => {
      if (!selects(m)) return false;
      this.letters.set(m.id, letterHash(m.raw));
      return true;
    };
  }

  get size(): number {
    return this.letters.size;
  }

  /** Selects only the planned letters, unchanged. */
  readonly selects = (m: DlqMessage): boolean => {
    if (this.found.has(m.id) || this.letters.get(m.id) !== letterHash(m.raw)) return false;
    this.found.add(m.id);
    return true;
  };

  /** Planned letters the execute did not find. */
  get missing(): number {
    return this.letters.size - this.found.size;
  }
}

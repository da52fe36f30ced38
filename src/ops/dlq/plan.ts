import { ExitCode } from '../../errors.js';
import { applyEdits, hasEdits, jsonDiff, type Json } from './edits.js';
import type { DlqKind, DlqMessage, PayloadHash, RedriveOptions, RedriveResult, RedriveRun } from './types.js';

/**
 * Planning a redrive, the same for both brokers: what each selected message becomes after the
 * edits, whether it is valid, and the tally of the result. The engines do the sending.
 */

/** Items (and payload hashes) kept in a result; the counts cover everything. */
export const ITEMS_KEPT = 2000;

/** One message's plan: its item in the result, and the payload to send. */
export interface Decision {
  item: RedriveResult['items'][number];
  after: Json | null;
}

export function decide(
  m: DlqMessage,
  options: RedriveOptions,
  validate: (p: Json) => string[],
  withDiff = true,
): Decision {
  const replacement = options.replacements?.[m.id];
  let after: Json | null = m.payload;
  if (replacement !== undefined) after = replacement;
  if (after !== null && hasEdits(options)) after = applyEdits(after, options);
  const problems: string[] = [];
  if (after === null)
    problems.push(m.decodeError ?? 'payload cannot be decoded; edit it (--edit or --set) first');
  else problems.push(...validate(after));
  const changed = after !== null && JSON.stringify(after) !== JSON.stringify(m.payload);
  const valid = problems.length === 0;
  return {
    after,
    item: {
      id: m.id,
      orderId: m.orderId,
      destination: m.destination,
      changed,
      diff: withDiff && changed && m.payload !== null && after !== null ? jsonDiff(m.payload, after) : [],
      valid,
      problems,
      outcome: valid ? (options.execute ? 'redriven' : 'would-redrive') : 'invalid',
    },
  };
}

/** A problem found after planning (no destination, the schema refused it): the message stays. */
export function invalidate(d: Decision, problem: string): void {
  d.item.valid = false;
  d.item.outcome = 'invalid';
  d.item.problems.push(problem);
}

export function newRun(dlq: string, kind: DlqKind, execute: boolean): RedriveRun {
  return {
    result: {
      dlq,
      kind,
      execute,
      selected: 0,
      toRedrive: 0,
      unchanged: 0,
      invalid: 0,
      redriven: 0,
      failed: 0,
      remaining: 0,
      auditRef: null,
      items: [],
    },
    payloadHashes: [],
  };
}

export function record(result: RedriveResult, d: Decision): void {
  result.selected++;
  if (d.item.valid) {
    result.toRedrive++;
    if (!d.item.changed) result.unchanged++;
  } else result.invalid++;
  if (result.items.length < ITEMS_KEPT) result.items.push(d.item);
}

export function keepHash(hashes: PayloadHash[], id: string, before: string, after?: string): void {
  if (hashes.length < ITEMS_KEPT) hashes.push({ id, before, ...(after !== undefined ? { after } : {}) });
}

/** The exit code a redrive result deserves: partial when anything selected was left behind. */
export function redriveExitCode(r: RedriveResult): number {
  if (!r.execute) return ExitCode.ok;
  return r.failed > 0 || r.invalid > 0 ? ExitCode.partial : ExitCode.ok;
}

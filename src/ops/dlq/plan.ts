import { createHash } from 'node:crypto';
import { ExitCode } from '../../errors.js';
import { applyEditsTo, hasEdits, jsonDiff, type Json } from './edits.js';
import type {
  DlqKind,
  DlqMessage,
  PayloadHash,
  RedriveJob,
  RedriveOptions,
  RedriveResult,
  RedriveRun,
} from './types.js';

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
  /** `after` as JSON text (null when there is none): what a redrive sends for a changed letter. */
  afterText: string | null;
  /** Hash of the dead letter's payload as found (names the letter in a plan with its id). */
  letterHash: string;
}

/** A short hash of a payload, naming one version of a dead letter in a plan. */
export const letterHash = (raw: string): string =>
  createHash('sha256').update(raw).digest('hex').slice(0, 32);

/**
 * A plan's fingerprint: the selected dead letters in order, each by id and payload hash, with
 * what it becomes. Two runs over the same letters with the same edits give the same id, so an
 * `--execute --plan ID` can check that it is about to change exactly what the operator saw.
 */
export class PlanPrint {
  private readonly hash = createHash('sha256');
  private n = 0;
  add(id: string, hash: string, becomes: string): void {
    this.n++;
    this.hash.update(`${id}\0${hash}\0${becomes}\n`);
  }
  id(): string {
    return `${this.n}-${this.hash.digest('hex').slice(0, 16)}`;
  }
}

/** The fingerprint (and how many items to keep) of each run in progress; engines only call record(). */
const runs = new WeakMap<RedriveResult, { print: PlanPrint; itemsKept: number }>();

/** Ends a run's fingerprint: its plan id. */
export function planIdOf(result: RedriveResult): string {
  return runs.get(result)?.print.id() ?? '';
}

/** Whether the run still keeps items (with diffs) in its result. */
export const keepsItems = (result: RedriveResult): boolean =>
  result.items.length < (runs.get(result)?.itemsKept ?? ITEMS_KEPT);

export function decide(
  m: DlqMessage,
  options: RedriveOptions,
  validate: (p: Json) => string[],
  withDiff = true,
): Decision {
  const replacement = options.replacements?.[m.id];
  let after: Json | null = m.payload;
  if (replacement !== undefined) after = replacement;
  const problems: string[] = [];
  if (after !== null && hasEdits(options)) after = applyEditsTo(after, options, problems);
  if (after === null)
    problems.push(m.decodeError ?? 'payload cannot be decoded; edit it (--edit or --set) first');
  else problems.push(...validate(after));
  const afterText = after === null ? null : JSON.stringify(after);
  const changed = afterText !== null && afterText !== JSON.stringify(m.payload);
  const valid = problems.length === 0;
  return {
    after,
    afterText,
    letterHash: letterHash(m.raw),
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

/** A letter whose change failed (not sent, not un-parked): it stays, with the reason. */
export function fail(run: RedriveRun, d: Decision, reason: string): void {
  run.result.failed++;
  d.item.outcome = 'failed';
  d.item.problems.push(reason);
}

/** How many letters a redrive may take: `--limit`, and no more than the confirmed plan held. */
export function redriveLimit(job: RedriveJob): number {
  return Math.min(job.options.limit ?? Number.POSITIVE_INFINITY, job.planned ?? Number.POSITIVE_INFINITY);
}

export function newRun(dlq: string, kind: DlqKind, execute: boolean, itemsKept = ITEMS_KEPT): RedriveRun {
  const run: RedriveRun = {
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
      planId: '',
      snapshot: 0,
      arrived: 0,
      missing: 0,
    },
    payloadHashes: [],
  };
  runs.set(run.result, { print: new PlanPrint(), itemsKept });
  return run;
}

export function record(result: RedriveResult, d: Decision): void {
  result.selected++;
  if (d.item.valid) {
    result.toRedrive++;
    if (!d.item.changed) result.unchanged++;
  } else result.invalid++;
  const becomes = !d.item.valid ? 'invalid' : d.item.changed ? letterHash(d.afterText ?? 'null') : 'as-is';
  runs.get(result)?.print.add(d.item.id, d.letterHash, becomes);
  if (keepsItems(result)) result.items.push(d.item);
}

/** Whether a run still keeps payload hashes (ask before hashing: the first ITEMS_KEPT are kept). */
export const keepsHashes = (hashes: PayloadHash[]): boolean => hashes.length < ITEMS_KEPT;

export function keepHash(hashes: PayloadHash[], id: string, before: string, after?: string): void {
  if (keepsHashes(hashes)) hashes.push({ id, before, ...(after !== undefined ? { after } : {}) });
}

/** The exit code a redrive result deserves: partial when anything selected was left behind. */
export function redriveExitCode(r: RedriveResult): number {
  if (!r.execute) return ExitCode.ok;
  return r.failed > 0 || r.invalid > 0 || r.missing > 0 ? ExitCode.partial : ExitCode.ok;
}

import type { AuditRecord } from '../audit.js';
import type { OpsContext } from '../context.js';
import type { Json, PayloadEdits } from './edits.js';
import type { FailureContext } from './failure.js';

/** The shapes `dlq list|show|redrive|purge --json` print, and the interface each broker's engine implements. */
/** `outbox`: the outbox's parked rows in PostgreSQL (`outbox.parked`), events the relay could not encode. */
export type DlqKind = 'kafka' | 'rabbitmq' | 'outbox';

export interface DlqSummary {
  name: string;
  kind: DlqKind;
  count: number;
  oldest: string | null;
  newest: string | null;
  byClass: Record<string, number>;
  /** Where its messages came from. */
  source: string | null;
  /** Messages read to compute oldest/newest/byClass (all, unless more than the scan cap). */
  scanned: number;
}

/** A dead letter, with the failure context its writer (orderbus, RabbitMQ, Spring, Connect) left in its headers. */
export interface DlqMessage extends FailureContext {
  /** Stable id: `partition:offset` on Kafka, the task id (or message id) on RabbitMQ. */
  id: string;
  dlq: string;
  kind: DlqKind;
  orderId: string | null;
  /** The decoded payload (event envelope or task), null when it cannot be decoded. */
  payload: Json | null;
  /** The payload as text (UTF-8), for what cannot be decoded. */
  raw: string;
  decodeError: string | null;
  headers: Record<string, string>;
  /** `topic` (Kafka) or `exchange/routingKey` (RabbitMQ). */
  destination: string | null;
  redriveCount: number;
}

export interface RedriveOptions extends PayloadEdits {
  filter?: string;
  limit?: number;
  /** Messages per second; unlimited when absent. */
  rate?: number;
  /** Replacement payloads by message id (from $EDITOR). */
  replacements?: Record<string, Json>;
  /** Only these ids. */
  ids?: string[];
  execute?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Stops the run at the next letter (rejecting with the signal's reason); held letters go back to the DLQ. */
  signal?: AbortSignal;
  /** The command line, for the audit record. */
  command?: string;
  /** Execute only the plan with this id (from a dry run), or refuse when the DLQ changed since. */
  plan?: string;
  /** Items (with their diffs) kept in the result; ITEMS_KEPT by default. */
  itemsKept?: number;
}

export interface RedriveItem {
  id: string;
  orderId: string | null;
  destination: string | null;
  changed: boolean;
  diff: string[];
  valid: boolean;
  problems: string[];
  /** What happened (execute) or would happen (dry run). */
  outcome: 'redriven' | 'would-redrive' | 'invalid' | 'failed';
}

export interface RedriveResult {
  dlq: string;
  kind: DlqKind;
  execute: boolean;
  selected: number;
  toRedrive: number;
  unchanged: number;
  invalid: number;
  redriven: number;
  failed: number;
  /** Messages left in the DLQ afterwards (execute) or now (dry run). */
  remaining: number;
  auditRef: string | null;
  items: RedriveItem[];
  /** Fingerprint of the selected dead letters and what each becomes: `--execute --plan ID` runs exactly these. */
  planId: string;
  /** Dead letters in the DLQ when the command started: the ones it works on. */
  snapshot: number;
  /** Dead letters that arrived while it ran, left for the next run. */
  arrived: number;
  /** Letters of the confirmed plan no longer found in the DLQ (someone else took them). */
  missing: number;
}

export interface PurgeResult {
  dlq: string;
  kind: DlqKind;
  execute: boolean;
  /** What is (dry run) or was (execute) removed. */
  count: number;
  auditRef: string | null;
  /** Fingerprint of the dead letters counted: `--execute --plan ID` purges exactly these. */
  planId: string;
  /** Dead letters that arrived while it ran, left in the DLQ. */
  arrived: number;
}

/** sha256 of a payload before (and after an edit), for the audit record. */
export type PayloadHash = NonNullable<AuditRecord['payloadHashes']>[number];

/** How much of a DLQ a browse reads, and where. */
export interface BrowseOptions {
  /** Letters read at most. */
  cap?: number;
  /**
   * Kafka: the `cap` letters are evenly spaced runs over the whole DLQ, each partition's first
   * and last letters among them (what a summary samples), not the first `cap`. Queues, whose
   * letters can only be read from the head, read the first `cap`.
   */
  spread?: boolean;
  /** Kafka: each partition from its first letter written at or after this time (ms), found by ListOffsets. */
  since?: number;
  /**
   * Kafka: a letter whose failure context (headers, key; payload not decoded) this rejects is
   * counted as read and skipped without decoding its payload. Only ever rejects what `fn` would.
   */
  prefilter?: (m: DlqMessage) => boolean;
  /**
   * A letter whose bytes (key, body, text header values) do not hold this text is counted as read
   * and skipped before it is parsed: for a search by an id that any matching letter spells out.
   */
  needle?: string;
  /** Kafka: `fn` gets each letter without its payload decoded (null): what a summary needs. */
  headsOnly?: boolean;
  /** Letters read so far, after each fetch. */
  onRead?: (read: number) => void;
}

export interface BrowseResult {
  /** Outstanding dead letters when it started. */
  count: number;
  /** Letters read (handed to `fn`, or skipped by the prefilter). */
  read: number;
}

/** What an engine is asked to redrive. */
export interface RedriveJob {
  options: RedriveOptions;
  /** Whether a message is selected (ids and --filter). */
  selects: (m: DlqMessage) => boolean;
  /** Stamped on every re-published message (execute only). */
  auditRef: string | null;
  /** How many letters a confirmed plan holds: the engine may stop once it selected them all. */
  planned?: number;
}

/** An engine's redrive: the result shown to the operator and the hashes of what it re-published. */
export interface RedriveRun {
  result: RedriveResult;
  payloadHashes: PayloadHash[];
}

/** An engine's purge: how many are (or were) removed and the hashes of those removed. */
export interface PurgeRun {
  count: number;
  payloadHashes: PayloadHash[];
  /** Dead letters that arrived while it ran (left in the DLQ). */
  arrived?: number;
}

/** Dead letters on one broker. Each call works on what the DLQ holds when it starts. */
export interface DlqEngine {
  readonly kind: DlqKind;
  /** The names of this broker's DLQs. */
  list(ctx: OpsContext): Promise<string[]>;
  /**
   * For a name only this source can hold, whether it exists, failing with the source's own error
   * when it cannot be reached (so `dlq show outbox.parked` during a database outage names the
   * database, not an unknown DLQ). Sources without such names leave it out.
   */
  owns?(ctx: OpsContext, name: string): Promise<boolean>;
  /**
   * Reads the outstanding dead letters in order without removing any, at most `options.cap`,
   * until `fn` returns false; resolves to how many were outstanding when it started and how many
   * it read.
   */
  browse(
    ctx: OpsContext,
    name: string,
    fn: (m: DlqMessage) => boolean | void,
    options?: BrowseOptions,
  ): Promise<BrowseResult>;
  redrive(ctx: OpsContext, name: string, job: RedriveJob): Promise<RedriveRun>;
  /**
   * Counts (dry run) or removes (execute) every outstanding dead letter, or only those `selects`
   * accepts (a confirmed plan; `planned` of them) where the engine can pick. `auditRef` is the
   * execute's audit id, for an engine that marks what it removes instead of deleting it.
   */
  purge(
    ctx: OpsContext,
    name: string,
    execute: boolean,
    only?: { selects: (m: DlqMessage) => boolean; planned: number },
    auditRef?: string,
  ): Promise<PurgeRun>;
}

import { formatError } from '../src/errors.js';
import type { DlqMessage, DlqSummary, RedriveResult } from '../src/ops/dlq/types.js';
import type { ComponentStatus } from '../src/ops/health.js';
import type { GroupLag, LagStatus, PartitionLag } from '../src/ops/lag.js';
import type { ResetPlan, ResetRow } from '../src/ops/offsets.js';
import type { QueueInfo } from '../src/ops/queues.js';
import type { GroupPosition, TraceEntry as OpsTraceEntry, TraceResult } from '../src/ops/trace.js';

/**
 * What the console shows, and the port it reads and acts through. The real implementation maps
 * `src/ops` onto this port (ui/ops-adapter.ts); UI unit tests use an in-memory one. Components
 * never see anything but these shapes. Each view is derived from the ops type it shows (the
 * fields the console reads, plus the few it turns into text), so a change there shows up here.
 */
export type HealthStatus = LagStatus;

export type PartitionView = Pick<
  PartitionLag,
  'topic' | 'partition' | 'committed' | 'timeLagMs' | 'status'
> & {
  end: PartitionLag['logEnd'];
  /** 0 where the group has no committed offset. */
  lag: number;
  /** `clientId@host` of the member that owns it. */
  owner: string | null;
};

export type GroupView = Pick<
  GroupLag,
  'group' | 'state' | 'members' | 'status' | 'totalLag' | 'etaSeconds'
> & {
  timeLagMs: GroupLag['maxTimeLagMs'];
  partitions: PartitionView[];
};

/** The fields of each ops type a view keeps as they are: the adapter picks exactly these. */
export const QUEUE_VIEW_FIELDS = [
  'name',
  'type',
  'ready',
  'unacked',
  'consumers',
  'publishRate',
  'deliverRate',
  'ackRate',
  'dlqDepth',
] as const satisfies readonly (keyof QueueInfo)[];
export const COMPONENT_VIEW_FIELDS = [
  'name',
  'status',
  'reason',
  'address',
] as const satisfies readonly (keyof ComponentStatus)[];
export const DLQ_VIEW_FIELDS = [
  'name',
  'kind',
  'count',
  'oldest',
  'newest',
  'byClass',
] as const satisfies readonly (keyof DlqSummary)[];

/**
 * A RabbitMQ queue, or a Kafka DLQ topic listed beside the RabbitMQ DLQs (`type` 'kafka', its
 * outstanding dead letters as `ready`, no rates).
 */
export type QueueView = Pick<QueueInfo, (typeof QUEUE_VIEW_FIELDS)[number]>;

/** A Kafka DLQ topic as a row of the queues panel. */
export const kafkaDlqRow = (name: string, outstanding: number): QueueView => ({
  name,
  type: 'kafka',
  ready: outstanding,
  unacked: 0,
  consumers: 0,
  publishRate: 0,
  deliverRate: 0,
  ackRate: 0,
  dlqDepth: null,
});
export type ComponentView = Pick<ComponentStatus, (typeof COMPONENT_VIEW_FIELDS)[number]>;
/** `count`: every outstanding dead letter, those a browse or a plan holds unacknowledged included. */
export type DlqView = Pick<DlqSummary, (typeof DLQ_VIEW_FIELDS)[number]>;

export interface OverviewData {
  groups: GroupView[];
  queues: QueueView[];
  components: ComponentView[];
}

export type DlqMessageView = Pick<
  DlqMessage,
  'id' | 'headers' | 'attempts' | 'errorClass' | 'errorMessage' | 'destination'
> & {
  /** The payload as text: pretty JSON when it decodes, the raw text otherwise. */
  payload: string;
};

/** One page of a DLQ browse and how many dead letters the DLQ holds in all (held ones included). */
export interface DlqPage {
  messages: DlqMessageView[];
  total: number;
}

export interface PlanOptions {
  /** Aborting stops the scan and gives every held letter back to the DLQ; the plan rejects. */
  signal?: AbortSignal;
  /** Letters scanned so far, of those in the DLQ when the plan started. */
  onProgress?: (scanned: number, total: number) => void;
}

export interface RedriveRequest {
  dlq: string;
  /** Only these messages; all when undefined. */
  ids?: string[];
  fixUrl?: { from: string; to: string };
  /** Replacement payloads by message id (from $EDITOR). */
  edits?: Record<string, string>;
}

export type RedrivePreview = Pick<RedriveResult, 'toRedrive' | 'unchanged' | 'invalid'> & {
  /** One human-readable diff per message that changes, plus where it goes. */
  diffs: string[];
};

export type RedriveOutcome = Pick<RedriveResult, 'redriven' | 'failed' | 'remaining'>;

export type ResetPlanView = Pick<ResetPlan, 'group' | 'topic' | 'strategy'> & {
  /** delta is 0 where the group has no committed offset. */
  rows: (Pick<ResetRow, 'partition' | 'current' | 'target'> & { delta: number })[];
};

export type TraceEntry = Pick<OpsTraceEntry, 'at' | 'what'> & {
  /** Source and place in one column. */
  where: string;
};

/** The trace as `orderbus trace` prints it: the timeline, then each group's position. */
export type TraceView = Pick<TraceResult, 'orderId' | 'status' | 'topic' | 'partition' | 'unavailable'> & {
  entries: TraceEntry[];
  groups: Pick<GroupPosition, 'group' | 'committed' | 'unseen'>[];
};

export interface ConsoleOps {
  overview(): Promise<OverviewData>;
  planReset(group: string, topic: string, strategy: 'earliest' | 'latest'): Promise<ResetPlanView>;
  executeReset(plan: ResetPlanView): Promise<void>;
  dlqs(): Promise<DlqView[]>;
  dlqMessages(dlq: string, limit: number): Promise<DlqPage>;
  planRedrive(request: RedriveRequest, options?: PlanOptions): Promise<RedrivePreview>;
  executeRedrive(
    request: RedriveRequest,
    onProgress: (done: number, total: number) => void,
  ): Promise<RedriveOutcome>;
  purge(dlq: string): Promise<{ removed: number }>;
  trace(orderId: string): Promise<TraceView>;
  /** The target line every confirmation starts with (context · bootstrap servers · cluster id). */
  target?(): Promise<string>;
  close(): Promise<void>;
}

/** An error as the console shows it: one status line with the hint, never a stack trace. */
export interface StatusMessage {
  kind: 'info' | 'error' | 'ok';
  text: string;
  hint?: string;
}

/** The CLI's `error[CODE]: message` (one formatter for both); the hint gets its own line. */
export function toStatusMessage(e: unknown): StatusMessage {
  const hint = (e as { hint?: unknown } | null)?.hint;
  return {
    kind: 'error',
    text: formatError(e, { hint: false }),
    ...(typeof hint === 'string' && hint !== '' ? { hint } : {}),
  };
}

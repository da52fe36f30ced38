/**
 * What the console shows, and the port it reads and acts through. The real implementation maps
 * `src/ops` onto this port (ui/ops-adapter.ts); UI unit tests use an in-memory one. Components
 * never see anything but these shapes.
 */
export type HealthStatus = 'OK' | 'WARN' | 'STALL' | 'STOP' | 'REWIND' | 'ERR';

export interface PartitionView {
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
  timeLagMs: number | null;
  owner: string | null;
  status: HealthStatus;
}

export interface GroupView {
  group: string;
  state: string;
  members: number;
  status: HealthStatus;
  totalLag: number;
  timeLagMs: number | null;
  /** Estimated seconds to drain at the recent consume rate; null when not draining. */
  etaSeconds: number | null;
  partitions: PartitionView[];
}

export interface QueueView {
  name: string;
  type: string;
  ready: number;
  unacked: number;
  consumers: number;
  publishRate: number;
  deliverRate: number;
  ackRate: number;
  dlqDepth: number | null;
}

export interface ComponentView {
  name: string;
  status: 'up' | 'down' | 'degraded';
  address: string;
}

export interface OverviewData {
  groups: GroupView[];
  queues: QueueView[];
  components: ComponentView[];
}

export interface DlqView {
  name: string;
  kind: 'kafka' | 'rabbitmq';
  count: number;
  oldest: string | null;
  newest: string | null;
  byClass: Record<string, number>;
}

export interface DlqMessageView {
  /** Stable id within the DLQ (offset for Kafka, position/message id for RabbitMQ). */
  id: string;
  payload: string;
  headers: Record<string, string>;
  attempts: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  destination: string | null;
}

export interface RedriveRequest {
  dlq: string;
  /** Only these messages; all when undefined. */
  ids?: string[];
  fixUrl?: { from: string; to: string };
  /** Replacement payloads by message id (from $EDITOR). */
  edits?: Record<string, string>;
}

export interface RedrivePreview {
  toRedrive: number;
  unchanged: number;
  invalid: number;
  /** One human-readable diff per message that changes, plus where it goes. */
  diffs: string[];
}

export interface RedriveOutcome {
  redriven: number;
  failed: number;
  remaining: number;
}

export interface ResetPlanView {
  group: string;
  topic: string;
  strategy: string;
  rows: { partition: number; current: number | null; target: number; delta: number }[];
}

export interface TraceEntry {
  at: string | null;
  where: string;
  what: string;
}

export interface TraceView {
  orderId: string;
  status: string | null;
  entries: TraceEntry[];
}

export interface ConsoleOps {
  overview(): Promise<OverviewData>;
  planReset(group: string, topic: string, strategy: 'earliest' | 'latest'): Promise<ResetPlanView>;
  executeReset(plan: ResetPlanView): Promise<void>;
  dlqs(): Promise<DlqView[]>;
  dlqMessages(dlq: string, limit: number): Promise<DlqMessageView[]>;
  planRedrive(request: RedriveRequest): Promise<RedrivePreview>;
  executeRedrive(
    request: RedriveRequest,
    onProgress: (done: number, total: number) => void,
  ): Promise<RedriveOutcome>;
  purge(dlq: string): Promise<{ removed: number }>;
  trace(orderId: string): Promise<TraceView>;
  close(): Promise<void>;
}

/** An error as the console shows it: one status line with the hint, never a stack trace. */
export interface StatusMessage {
  kind: 'info' | 'error' | 'ok';
  text: string;
  hint?: string;
}

export function toStatusMessage(e: unknown): StatusMessage {
  const err = e as { code?: string; message?: string; hint?: string };
  const text = err.code ? `error[${err.code}]: ${err.message ?? ''}` : `error: ${err.message ?? String(e)}`;
  return { kind: 'error', text, ...(err.hint ? { hint: err.hint } : {}) };
}

/**
 * What a drill reports: the business invariants (which decide the verdict) and the figures an
 * on-call engineer reads (checkout latency, lag, queue depths, dead letters, time to recover).
 * Plain data plus pure formatting helpers; the command renders it as a table or JSON.
 */
export interface Invariant {
  name: string;
  ok: boolean;
  /** The measured value (0 for the counts that must be 0). */
  value: number;
  detail: string;
}

export interface LatencyFigures {
  requests: number;
  p50: number;
  p99: number;
}

export interface OrderAccount {
  placed: number;
  completed: number;
  compensated: number;
  inDlq: number;
  inFlight: number;
  lost: number;
  uncompensated: number;
  byStatus: Record<string, number>;
  /** A few of the lost and uncompensated orders, to start the investigation from. */
  lostIds: string[];
  uncompensatedIds: string[];
}

export interface Duplicates {
  charges: number;
  refunds: number;
  emails: number;
  webhooks: number;
}

export interface TaskAccount {
  expected: number;
  delivered: number;
  inDlq: number;
  inFlight: number;
  lost: number;
  lostIds: string[];
}

export interface GroupFigures {
  group: string;
  peakLag: number;
  peakTimeLagMs: number;
}

export interface DrillReport {
  scenario: string;
  summary: string;
  namespace: string;
  startedAt: string;
  finishedAt: string;
  verdict: 'PASS' | 'FAIL';
  params: { ratePerSecond: number; durationMs: number; baselineMs: number; settleTimeoutMs: number };
  warnings: string[];
  /** What was injected and healed, in order, with the ms since the drill started. */
  timeline: { atMs: number; event: string }[];
  invariants: Invariant[];
  orders: OrderAccount;
  duplicates: Duplicates;
  tasks: TaskAccount;
  checkout: {
    attempted: number;
    succeeded: number;
    successPct: number;
    byStatus: Record<string, number>;
    baseline: LatencyFigures;
    fault: LatencyFigures;
  };
  /** Placed → notified, for the orders that completed. */
  orderCompletionMs: { p50: number; p99: number; max: number };
  lag: GroupFigures[];
  peakQueueDepths: Record<string, number>;
  dlq: { kafka: number; email: number; webhook: number; analytics: number; delta: number };
  /** From heal until lag and work queues were back at the baseline's level; null if never. */
  recoveryMs: number | null;
  /** From heal until every order was accounted for and nothing was left to do; null if not within the bound. */
  settleMs: number | null;
  /** Scenario-specific observations (kills, broker restarts, poison records…). */
  observed: Record<string, number | string>;
  /** What the drill did to remedy (a DLQ redrive), and the commands an operator runs for real. */
  remediation: string[];
  next: string[];
}

export function invariant(name: string, value: number, ok: boolean, detail: string): Invariant {
  return { name, value, ok, detail };
}

export function verdictOf(invariants: Invariant[]): 'PASS' | 'FAIL' {
  return invariants.every((i) => i.ok) ? 'PASS' : 'FAIL';
}

const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)}s`);

/** The one line per scenario the issue tracker and CI logs quote. */
export function reportLine(r: DrillReport): string {
  const dups = r.duplicates.charges + r.duplicates.refunds + r.duplicates.emails + r.duplicates.webhooks;
  return (
    `${r.scenario}: ${r.verdict} — lost ${r.orders.lost}, duplicates ${dups}, ` +
    `checkout p99 ${r.checkout.fault.p99.toFixed(0)} ms during fault (baseline ${r.checkout.baseline.p99.toFixed(0)} ms), ` +
    `recovery ${secs(r.recoveryMs)}, settled ${secs(r.settleMs)}`
  );
}

export { secs as formatSeconds };

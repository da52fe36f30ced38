import type { OrderbusConfig } from '../../config.js';
import type { OpsContext } from '../../ops/context.js';
import type { Verification } from './invariants.js';
import type { DrillPipeline } from './pipeline.js';
import type { DrillDatabase } from './private-postgres.js';
import type { PrivateRegistry } from './private-registry.js';
import type { Invariant } from './report.js';

/**
 * The drills. Each one injects a fault while the load keeps placing orders, heals it at the end
 * of the fault window (heal is idempotent: the drill calls it again on any failure or Ctrl-C),
 * and may run the runbook's remedy once the pipeline settled (a DLQ redrive).
 */
export interface DrillContext {
  /** The operator's config: where the stack is (faults on its processes use it). */
  config: OrderbusConfig;
  pipeline: DrillPipeline;
  /** The private database, for scenarios with `privateDatabase`. */
  database?: DrillDatabase;
  /** The private schema registry, for scenarios with `privateRegistry`. */
  registry?: PrivateRegistry;
  /** Ops calls against the drill pipeline's namespace. */
  ops: OpsContext;
  signal: AbortSignal;
  /** How long the fault is held while the load runs. */
  faultWindowMs: number;
  note(event: string): void;
  observe(key: string, value: number | string): void;
  sleep(ms: number): Promise<void>;
}

/** What the drill measured, for a scenario's own checks. */
export interface DrillFigures {
  faultP99: number;
  /** Checkout's answers while the fault was on, by HTTP status, and requests that got none. */
  faultStatuses: Record<string, number>;
  faultErrors: number;
  /** When the pipeline settled (epoch ms), null if it did not. */
  settledAt: number | null;
}

export interface Scenario {
  name: string;
  summary: string;
  /** What the drill proves, for `chaos list`. */
  proves: string;
  requiresBrokers?: number;
  /** RabbitMQ nodes of a cluster `stack up --rabbit-nodes N` started. */
  requiresRabbitNodes?: number;
  /** Multiplies the load rate in the middle third of the fault window. */
  burstFactor?: number;
  /** Runs the services on a private PostgreSQL behind the TCP fault proxy (`ctx.database`). */
  privateDatabase?: boolean;
  /** Runs the services on a private schema registry (`ctx.registry`). */
  privateRegistry?: boolean;
  /** Extra time the pipeline may need to settle after this fault. */
  settleExtraMs?: number;
  inject(ctx: DrillContext): Promise<void>;
  heal(ctx: DrillContext): Promise<void>;
  /** Runs after the pipeline settled; true when it did something (the drill settles again). */
  remedy?(ctx: DrillContext): Promise<boolean>;
  checks?(ctx: DrillContext, v: Verification, figures: DrillFigures): Invariant[];
  next?(ctx: DrillContext): string[];
}

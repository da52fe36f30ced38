import { errorMessage } from '../errors.js';
import type { OrderbusConfig } from '../config.js';
import { componentHealth, HEALTH_TIMEOUT_MS, type ComponentStatus } from './health.js';
import type { OpsContext } from './context.js';
import { lagReport, type GroupLag } from './lag.js';
import { listQueues, type QueueInfo } from './queues.js';
import { kafkaOutstanding, outstandingCount } from './dlq/kafka-cursor.js';
import { kafkaDlqNames, rabbitDlqNames } from './dlq/dlq-names.js';
import { parkedOutboxCount } from '../pipeline/outbox.js';

/** `orderbus status`: the pipeline's health on one screen — components, lag, queues, dead letters. */
export interface StatusReport {
  at: string;
  healthy: boolean;
  components: ComponentStatus[];
  groups: GroupLag[];
  queues: QueueInfo[];
  dlqs: { name: string; kind: 'kafka' | 'rabbitmq'; count: number }[];
  /** Outbox rows parked because they cannot be encoded (null: the database was not readable). */
  parkedOutbox: number | null;
  problems: string[];
}

export async function statusReport(
  ctx: OpsContext,
  options: { sampleSeconds?: number } = {},
): Promise<StatusReport> {
  // Each part on its own, all at once: a component that is down or stalled costs at most its
  // health check's bound (HEALTH_TIMEOUT_MS), never a wait on top of the others.
  const health = componentHealth(ctx.config);
  const [components, kafka, rabbit, parkedOutbox] = await Promise.all([
    health,
    kafkaStatus(ctx, options.sampleSeconds ?? 2),
    rabbitStatus(ctx),
    // Counted only on a database that just answered, bounded like its health check.
    health.then((cs) =>
      cs.some((c) => c.name === 'postgres' && c.status === 'up')
        ? parkedOutboxCount(bounded(ctx.config))
        : null,
    ),
  ]);
  const problems: string[] = [];
  for (const c of components)
    if (c.status !== 'up')
      problems.push(`${c.name} is ${c.status}${c.reason ? ` (${c.reason})` : ''}: ${c.detail ?? ''}`);
  problems.push(...kafka.problems, ...rabbit.problems);
  const dlqs = [...kafka.dlqs, ...rabbit.dlqs];
  for (const d of dlqs) if (d.count > 0) problems.push(`${d.name} holds ${d.count} dead letter(s)`);
  if (parkedOutbox) problems.push(`the outbox holds ${parkedOutbox} parked row(s) that cannot be encoded`);
  return {
    at: new Date().toISOString(),
    healthy: problems.length === 0,
    components,
    groups: kafka.groups,
    queues: rabbit.queues,
    dlqs,
    parkedOutbox,
    problems,
  };
}

type Dlqs = StatusReport['dlqs'];

/** Only the target's components: a cluster without the pipeline's RabbitMQ has no queues to show. */
const has = (ctx: OpsContext, c: 'kafka' | 'rabbitmq') => ctx.config.components.includes(c);

async function kafkaStatus(
  ctx: OpsContext,
  sampleSeconds: number,
): Promise<{ groups: GroupLag[]; dlqs: Dlqs; problems: string[] }> {
  const out = { groups: [] as GroupLag[], dlqs: [] as Dlqs, problems: [] as string[] };
  if (!has(ctx, 'kafka')) return out;
  try {
    const report = await lagReport(ctx, { sampleSeconds, samples: 2 });
    out.groups = report.groups.filter((g) => !g.group.startsWith('orderbus-dlq.'));
    for (const g of out.groups)
      if (g.status !== 'OK') out.problems.push(`group ${g.group} is ${g.status}: ${g.reasons.join('; ')}`);
    // One count: the same discovery and outstanding ranges as `dlq list` (the cursor topic, not
    // only the cursor group, whose offsets the broker expires).
    for (const t of await kafkaDlqNames(ctx))
      out.dlqs.push({ name: t, kind: 'kafka', count: outstandingCount(await kafkaOutstanding(ctx, t)) });
  } catch (e) {
    out.problems.push(`kafka: ${errorMessage(e)}`);
  }
  return out;
}

async function rabbitStatus(
  ctx: OpsContext,
): Promise<{ queues: QueueInfo[]; dlqs: Dlqs; problems: string[] }> {
  const out = { queues: [] as QueueInfo[], dlqs: [] as Dlqs, problems: [] as string[] };
  if (!has(ctx, 'rabbitmq')) return out;
  try {
    out.queues = await listQueues(ctx);
    // Held by a browse (unacked) still counts as a dead letter; a dead-letter target not named
    // *.dlq counts too (the same names `dlq list` finds).
    const names = new Set(await rabbitDlqNames(ctx));
    for (const q of out.queues.filter((x) => x.role === 'dlq' || names.has(x.name)))
      out.dlqs.push({ name: q.name, kind: 'rabbitmq', count: q.ready + q.unacked });
  } catch (e) {
    out.problems.push(`rabbitmq: ${errorMessage(e)}`);
  }
  return out;
}

/** `config` whose database connections give up as soon as the health check's do. */
function bounded(config: OrderbusConfig): OrderbusConfig {
  const db = config.database;
  return {
    ...config,
    database: {
      ...db,
      connectTimeoutMs: HEALTH_TIMEOUT_MS,
      statementTimeoutMs:
        db.statementTimeoutMs > 0 ? Math.min(db.statementTimeoutMs, HEALTH_TIMEOUT_MS) : HEALTH_TIMEOUT_MS,
    },
  };
}

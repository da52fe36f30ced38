import { errorMessage } from '../errors.js';
import { componentHealth, type ComponentStatus } from './health.js';
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
  const problems: string[] = [];
  const components = await componentHealth(ctx.config);
  for (const c of components)
    if (c.status !== 'up') problems.push(`${c.name} is ${c.status}: ${c.detail ?? ''}`);
  let groups: GroupLag[] = [];
  const dlqs: StatusReport['dlqs'] = [];
  // Only the target's components: a cluster without the pipeline's RabbitMQ has no queues to show.
  const has = (c: 'kafka' | 'rabbitmq') => ctx.config.components.includes(c);
  if (has('kafka'))
    try {
      const report = await lagReport(ctx, { sampleSeconds: options.sampleSeconds ?? 2, samples: 2 });
      groups = report.groups.filter((g) => !g.group.startsWith('orderbus-dlq.'));
      for (const g of report.groups) {
        if (g.group.startsWith('orderbus-dlq.')) continue;
        if (g.status !== 'OK') problems.push(`group ${g.group} is ${g.status}: ${g.reasons.join('; ')}`);
      }
      // One count: the same discovery and outstanding ranges as `dlq list` (the cursor topic, not
      // only the cursor group, whose offsets the broker expires).
      for (const t of await kafkaDlqNames(ctx))
        dlqs.push({ name: t, kind: 'kafka', count: outstandingCount(await kafkaOutstanding(ctx, t)) });
    } catch (e) {
      problems.push(`kafka: ${errorMessage(e)}`);
    }
  let queues: QueueInfo[] = [];
  if (has('rabbitmq'))
    try {
      queues = await listQueues(ctx);
      // Held by a browse (unacked) still counts as a dead letter; a dead-letter target not named
      // *.dlq counts too (the same names `dlq list` finds).
      const names = new Set(await rabbitDlqNames(ctx));
      for (const q of queues.filter((x) => x.role === 'dlq' || names.has(x.name)))
        dlqs.push({ name: q.name, kind: 'rabbitmq', count: q.ready + q.unacked });
    } catch (e) {
      problems.push(`rabbitmq: ${errorMessage(e)}`);
    }
  for (const d of dlqs) if (d.count > 0) problems.push(`${d.name} holds ${d.count} dead letter(s)`);
  const parkedOutbox = ctx.config.components.includes('postgres')
    ? await parkedOutboxCount(ctx.config)
    : null;
  if (parkedOutbox) problems.push(`the outbox holds ${parkedOutbox} parked row(s) that cannot be encoded`);
  return {
    at: new Date().toISOString(),
    healthy: problems.length === 0,
    components,
    groups,
    queues,
    dlqs,
    parkedOutbox,
    problems,
  };
}

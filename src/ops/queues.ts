import { managementApi } from '../adapters/rabbitmq.js';
import { OrderbusError } from '../errors.js';
import type { OpsContext } from './context.js';

/** RabbitMQ queues through the management API: depths, consumers, rates, and each DLQ beside its queue. */
export type QueueRole = 'work' | 'dlq' | 'retry' | 'other';

export interface QueueInfo {
  name: string;
  vhost: string;
  type: string;
  state: string;
  role: QueueRole;
  ready: number;
  unacked: number;
  consumers: number;
  publishRate: number;
  deliverRate: number;
  ackRate: number;
  /** The queue's dead-letter queue (`<name>.dlq`) and its depth, when it has one. */
  dlq: string | null;
  dlqDepth: number | null;
}

interface ApiQueue {
  name: string;
  vhost: string;
  type?: string;
  state?: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  arguments?: Record<string, unknown>;
  message_stats?: {
    publish_details?: { rate: number };
    deliver_get_details?: { rate: number };
    ack_details?: { rate: number };
  };
}

export function queueRole(name: string): QueueRole {
  if (name.endsWith('.dlq')) return 'dlq';
  if (/\.retry\.\d+$/.test(name)) return 'retry';
  // email.tasks.priority: order confirmations on a cluster, where quorum queues have no priorities.
  if (name.endsWith('.tasks') || name.endsWith('.tasks.priority')) return 'work';
  return 'other';
}

const round = (n: number | undefined) => Math.round((n ?? 0) * 10) / 10;

/**
 * Every queue of the target's RabbitMQ. A target without RabbitMQ (a Kafka-only context) is
 * refused rather than answered from whatever listens at the default management address, which
 * would be another system's queues.
 */
export async function listQueues(ctx: OpsContext): Promise<QueueInfo[]> {
  if (!ctx.config.components.includes('rabbitmq'))
    throw new OrderbusError('NOT_IN_TARGET', 'RabbitMQ is not part of this target', {
      hint: 'orderbus config (set rabbitmq.url and rabbitmq.managementUrl on the context, or components)',
    });
  const vhost = encodeURIComponent(ctx.config.rabbitmq.vhost);
  const raw = await managementApi<ApiQueue[]>(
    ctx.config,
    `/queues/${vhost}?columns=name,vhost,type,state,messages_ready,messages_unacknowledged,consumers,arguments,message_stats`,
  );
  const byName = new Map(raw.map((q) => [q.name, q]));
  return raw
    .map((q) => {
      const dlqName =
        typeof q.arguments?.['x-dead-letter-routing-key'] === 'string'
          ? q.arguments['x-dead-letter-routing-key']
          : `${q.name}.dlq`;
      const dlq = queueRole(q.name) === 'work' ? byName.get(dlqName) : undefined;
      return {
        name: q.name,
        vhost: q.vhost,
        type: q.type ?? 'classic',
        state: q.state ?? 'running',
        role: queueRole(q.name),
        ready: q.messages_ready ?? 0,
        unacked: q.messages_unacknowledged ?? 0,
        consumers: q.consumers ?? 0,
        publishRate: round(q.message_stats?.publish_details?.rate),
        deliverRate: round(q.message_stats?.deliver_get_details?.rate),
        ackRate: round(q.message_stats?.ack_details?.rate),
        dlq: dlq ? dlq.name : null,
        dlqDepth: dlq ? (dlq.messages_ready ?? 0) + (dlq.messages_unacknowledged ?? 0) : null,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

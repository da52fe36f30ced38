import { KafkaDlqHeaders } from '../../events/types.js';
import { TaskHeaders } from '../../tasks/topology.js';

/**
 * Who wrote a dead letter, told by its headers: orderbus itself, RabbitMQ's own dead-lettering
 * (`x-death`), Spring Kafka's DeadLetterPublishingRecoverer (`kafka_dlt-*`), a Kafka Connect
 * sink's dead letter queue (`__connect.errors.*`), or something else.
 */
export type DeadLetterFormat = 'orderbus' | 'rabbitmq' | 'spring-kafka' | 'kafka-connect' | 'unknown';

/** Where a dead letter came from, as its headers tell: where a redrive sends it back. */
export type DlqOrigin =
  | { broker: 'kafka'; topic: string; partition: number | null; offset: number | null; group: string | null }
  | { broker: 'rabbitmq'; queue: string | null; exchange: string | null; routingKeys: string[] };

/** Why, how often and when a dead letter failed, and where it came from, read from its headers. */
export interface FailureContext {
  format: DeadLetterFormat;
  /** Attempts (orderbus), or how many times RabbitMQ dead-lettered it (`x-death` count). */
  attempts: number | null;
  /** orderbus's class, `rabbitmq:<reason>`, or the exception's simple class name (Spring, Connect). */
  errorClass: string | null;
  errorMessage: string | null;
  statusCode: number | null;
  /** RabbitMQ's reason: rejected, expired, maxlen or delivery_limit. */
  reason: string | null;
  firstFailureAt: string | null;
  lastFailureAt: string | null;
  origin: DlqOrigin | null;
}

/** A numeric header, null when absent, empty or not a number. */
export const headerNumber = (s: string | undefined): number | null => {
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** `org.example.Outer$InnerException` → `InnerException`. */
export const simpleClassName = (fqcn: string): string =>
  fqcn
    .slice(fqcn.lastIndexOf('.') + 1)
    .split('$')
    .pop() ?? fqcn;

export const NO_FAILURE: FailureContext = {
  format: 'unknown',
  attempts: null,
  errorClass: null,
  errorMessage: null,
  statusCode: null,
  reason: null,
  firstFailureAt: null,
  lastFailureAt: null,
  origin: null,
};

/** A Kafka origin when its writer named the topic. */
export const kafkaOrigin = (
  topic: string | undefined,
  partition: number | null,
  offset: number | null,
  group: string | null,
): DlqOrigin | null => (topic ? { broker: 'kafka', topic, partition, offset, group } : null);

/** Whether orderbus's Kafka consumers wrote it (`dlq-*` headers). */
export const isOrderbusKafka = (h: Record<string, string>): boolean =>
  h[KafkaDlqHeaders.originalTopic] !== undefined || h[KafkaDlqHeaders.errorClass] !== undefined;

/** The header names under which orderbus's writers, Kafka consumers and task workers alike, record a failure. */
interface OrderbusFailureHeaders {
  attempts: string;
  errorClass: string;
  errorMessage: string;
  firstFailureAt: string;
  lastFailureAt: string;
}

/** What orderbus's writers record on either broker; each broker's own fields are added by its reader. */
const orderbusFailure = (h: Record<string, string>, names: OrderbusFailureHeaders): FailureContext => ({
  ...NO_FAILURE,
  format: 'orderbus',
  attempts: headerNumber(h[names.attempts]),
  errorClass: h[names.errorClass] ?? null,
  errorMessage: h[names.errorMessage] ?? null,
  firstFailureAt: h[names.firstFailureAt] ?? null,
  lastFailureAt: h[names.lastFailureAt] ?? null,
});

/** orderbus's Kafka consumers (`dlq-*` headers); without a failure time, it failed when it was written. */
export const kafkaFailure = (h: Record<string, string>, writtenAt: number): FailureContext => ({
  ...orderbusFailure(h, KafkaDlqHeaders),
  lastFailureAt: h[KafkaDlqHeaders.lastFailureAt] ?? new Date(writtenAt).toISOString(),
  origin: kafkaOrigin(
    h[KafkaDlqHeaders.originalTopic],
    headerNumber(h[KafkaDlqHeaders.originalPartition]),
    headerNumber(h[KafkaDlqHeaders.originalOffset]),
    h[KafkaDlqHeaders.consumerGroup] ?? null,
  ),
});

/** Whether orderbus's task workers wrote it (`x-*` task headers on RabbitMQ). */
export const isOrderbusTask = (h: Record<string, string>): boolean =>
  h[TaskHeaders.taskId] !== undefined ||
  h[TaskHeaders.errorClass] !== undefined ||
  h[TaskHeaders.originalExchange] !== undefined;

/** orderbus's task workers (`x-*` headers on RabbitMQ). */
export function taskFailure(h: Record<string, string>): FailureContext {
  const routingKey = h[TaskHeaders.originalRoutingKey];
  return {
    ...orderbusFailure(h, { ...TaskHeaders, attempts: TaskHeaders.attempt }),
    statusCode: headerNumber(h[TaskHeaders.statusCode]),
    origin: {
      broker: 'rabbitmq',
      queue: h[TaskHeaders.originalQueue] ?? null,
      exchange: h[TaskHeaders.originalExchange] ?? null,
      routingKeys: routingKey ? [routingKey] : [],
    },
  };
}

/** The class `dlq list` counts a dead letter under: `HttpGone (410)`, `rabbitmq:rejected`, `HTTP 503`, `unknown`. */
export function failureClass(m: Pick<FailureContext, 'errorClass' | 'statusCode'>): string {
  if (m.statusCode !== null && m.errorClass) return `${m.errorClass} (${m.statusCode})`;
  return m.errorClass ?? (m.statusCode !== null ? `HTTP ${m.statusCode}` : 'unknown');
}

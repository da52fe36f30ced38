/**
 * The event envelope and the event types of the order pipeline (shared/DESIGN.md).
 * Every state change is one immutable event on `order.events`, keyed by orderId.
 */
export const EVENT_TYPES = [
  'order.placed',
  'payment.captured',
  'payment.failed',
  'inventory.reserved',
  'inventory.failed',
  'shipping.created',
  'shipping.failed',
  'customer.notified',
  'order.cancelled',
  'payment.refunded',
  'inventory.released',
  'order.failed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface EventEnvelope<D = Record<string, unknown>> {
  /** uuid; the dedup key of every consumer. */
  eventId: string;
  type: EventType;
  orderId: string;
  correlationId: string;
  /** eventId of the event that caused this one (the order's checkout request id for order.placed). */
  causationId: string;
  /** ISO-8601 with zone. */
  occurredAt: string;
  /** The service that emitted it: checkout, payment, inventory, shipping, saga, notifier… */
  source: string;
  schemaVersion: number;
  data: D;
}

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

/** Kafka record headers every event carries. */
export const EventHeaders = {
  eventType: 'event-type',
  correlationId: 'correlation-id',
  source: 'source',
  eventId: 'event-id',
} as const;

/** Headers of a record on a Kafka DLQ topic (what `orderbus dlq` reads). */
export const KafkaDlqHeaders = {
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  originalTimestamp: 'dlq-original-timestamp',
  consumerGroup: 'dlq-consumer-group',
  errorClass: 'dlq-error-class',
  errorMessage: 'dlq-error-message',
  attempts: 'dlq-attempts',
  firstFailureAt: 'dlq-first-failure-at',
  lastFailureAt: 'dlq-last-failure-at',
  redriveCount: 'orderbus-redrive-count',
  auditRef: 'orderbus-audit-ref',
} as const;

/** Headers added by `orderbus replay --to-topic`. */
export const ReplayHeaders = {
  sourceTopic: 'replay-source-topic',
  sourcePartition: 'replay-source-partition',
  sourceOffset: 'replay-source-offset',
  auditRef: 'orderbus-audit-ref',
} as const;

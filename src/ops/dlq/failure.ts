import { KafkaDlqHeaders } from '../../events/types.js';
import { TaskHeaders } from '../../tasks/topology.js';
import type { DlqMessage } from './types.js';

/** Why and when a dead letter failed, read from the headers its writer left. */
export type FailureContext = Pick<
  DlqMessage,
  'attempts' | 'errorClass' | 'errorMessage' | 'statusCode' | 'firstFailureAt' | 'lastFailureAt'
>;

/** A numeric header, null when absent, empty or not a number. */
export const headerNumber = (s: string | undefined): number | null => {
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

/** orderbus's Kafka consumers (`dlq-*` headers); without a failure time, it failed when it was written. */
export function kafkaFailure(h: Record<string, string>, writtenAt: number): FailureContext {
  return {
    attempts: headerNumber(h[KafkaDlqHeaders.attempts]),
    errorClass: h[KafkaDlqHeaders.errorClass] ?? null,
    errorMessage: h[KafkaDlqHeaders.errorMessage] ?? null,
    statusCode: null,
    firstFailureAt: h[KafkaDlqHeaders.firstFailureAt] ?? null,
    lastFailureAt: h[KafkaDlqHeaders.lastFailureAt] ?? new Date(writtenAt).toISOString(),
  };
}

/** orderbus's task workers (`x-*` headers on RabbitMQ). */
export function taskFailure(h: Record<string, string>): FailureContext {
  return {
    attempts: headerNumber(h[TaskHeaders.attempt]),
    errorClass: h[TaskHeaders.errorClass] ?? null,
    errorMessage: h[TaskHeaders.errorMessage] ?? null,
    statusCode: headerNumber(h[TaskHeaders.statusCode]),
    firstFailureAt: h[TaskHeaders.firstFailureAt] ?? null,
    lastFailureAt: h[TaskHeaders.lastFailureAt] ?? null,
  };
}

/** The class `dlq list` counts a dead letter under: `HttpGone (410)`, `TransientExhausted`, `HTTP 503`, `unknown`. */
export function failureClass(m: FailureContext): string {
  if (m.statusCode !== null && m.errorClass) return `${m.errorClass} (${m.statusCode})`;
  return m.errorClass ?? (m.statusCode !== null ? `HTTP ${m.statusCode}` : 'unknown');
}

import { createHash } from 'node:crypto';
import { TaskHeaders } from './topology.js';

/** A task on a RabbitMQ work queue. The id is deterministic, so a re-dispatch is deduplicated. */
export interface EmailTask {
  kind: 'email';
  taskId: string;
  orderId: string;
  template: 'order-confirmation' | 'shipping-notification';
  to: string;
  data: Record<string, unknown>;
  /** The event that caused it (customer.notified is caused by the email). */
  causationId: string;
  correlationId: string;
}

export interface WebhookTask {
  kind: 'webhook';
  taskId: string;
  orderId: string;
  url: string;
  payload: Record<string, unknown>;
}

export interface AnalyticsTask {
  kind: 'analytics';
  taskId: string;
  orderId: string;
  type: string;
  at: string;
}

export type Task = EmailTask | WebhookTask | AnalyticsTask;

/** Header values as RabbitMQ hands them back (strings, numbers or buffers). */
export function headerString(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : JSON.stringify(v);
}

export function attemptOf(headers: Record<string, unknown> | undefined): number {
  const n = Number(headerString(headers, TaskHeaders.attempt) ?? '1');
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** A uuid derived from a string (for inbox rows keyed by a task id). */
export function uuidFromString(s: string): string {
  const h = createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

import type { ConsumeMessage, GetMessage } from 'amqplib';
import type { EventCodec } from '../../events/codec.js';
import { errorMessage } from '../../errors.js';
import { headerString } from '../../tasks/task.js';
import { TaskHeaders } from '../../tasks/topology.js';
import type { KafkaRecord } from '../../adapters/kafka-fetch.js';
import type { Json } from './edits.js';
import {
  NO_FAILURE,
  failureClass,
  headerNumber,
  isOrderbusKafka,
  isOrderbusTask,
  kafkaFailure,
  taskFailure,
  type FailureContext,
} from './failure.js';
import {
  connectFailure,
  isConnect,
  isRabbitDeath,
  isSpring,
  rabbitDeathFailure,
  springFailure,
} from './foreign-failure.js';
import { KafkaDlqHeaders } from '../../events/types.js';
import type { DlqMessage } from './types.js';

// How a dead letter, as either broker hands it over, is read into a `DlqMessage`.

const orderIdOf = (payload: Json | null): string | null => {
  const id = (payload as { orderId?: unknown } | null)?.orderId;
  return typeof id === 'string' ? id : null;
};

type Decoded = { payload: Json | null; error: string | null };

function parseJson(raw: string): Decoded {
  try {
    return { payload: JSON.parse(raw) as Json, error: null };
  } catch (e) {
    return { payload: null, error: `not JSON: ${errorMessage(e)}` };
  }
}

/** Schema-registry framed events; plain JSON is shown (with the decode error) when the framing is wrong. */
async function decodeEvent(codec: EventCodec, r: KafkaRecord): Promise<Decoded> {
  try {
    return { payload: (await codec.decode(r.value)) as unknown as Json, error: null };
  } catch (e) {
    const plain = parseJson(r.value?.toString('utf8') ?? '');
    return plain.payload !== null
      ? { payload: plain.payload, error: `${errorMessage(e)} (shown as plain JSON)` }
      : { payload: null, error: errorMessage(e) };
  }
}

/** Which writer's headers a Kafka dead letter carries, and what they say. */
function kafkaContext(r: KafkaRecord): FailureContext {
  const h = r.headers;
  if (isOrderbusKafka(h)) return kafkaFailure(h, r.timestamp);
  if (isSpring(h)) return springFailure({ text: h, raw: r.rawHeaders }, r.timestamp);
  if (isConnect(h)) return connectFailure(h, r.timestamp);
  // No failure headers: it failed (at the latest) when it was written, as orderbus's own fallback says.
  return { ...kafkaFailure(h, r.timestamp), format: 'unknown' };
}

/**
 * A Kafka dead letter as its key and headers tell it, the payload not decoded (null): enough for
 * its failure class, times, origin and (by key) order, at a fraction of a decode's cost.
 */
export function kafkaHeadView(dlq: string, r: KafkaRecord): DlqMessage {
  const failure = kafkaContext(r);
  const h = r.headers;
  return {
    id: `${r.partition}:${r.offset}`,
    dlq,
    kind: 'kafka',
    orderId: r.key?.toString('utf8') ?? null,
    payload: null,
    raw: r.value?.toString('utf8') ?? '',
    decodeError: null,
    headers: h,
    ...failure,
    destination: failure.origin?.broker === 'kafka' ? failure.origin.topic : null,
    redriveCount: headerNumber(h[KafkaDlqHeaders.redriveCount]) ?? 0,
  };
}

/** The payload of a head view, decoded. */
export async function withPayload(codec: EventCodec, head: DlqMessage, r: KafkaRecord): Promise<DlqMessage> {
  // Spring's and Connect's letters are not orderbus events: their values are shown as they are.
  const foreign = head.format === 'spring-kafka' || head.format === 'kafka-connect';
  const { payload, error } = foreign ? parseJson(head.raw) : await decodeEvent(codec, r);
  return { ...head, orderId: head.orderId ?? orderIdOf(payload), payload, decodeError: error };
}

export async function kafkaView(codec: EventCodec, dlq: string, r: KafkaRecord): Promise<DlqMessage> {
  return withPayload(codec, kafkaHeadView(dlq, r), r);
}

function amqpHeaders(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h ?? {})) {
    const v = headerString(h, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Which writer's headers a RabbitMQ dead letter carries (orderbus's before RabbitMQ's own `x-death`). */
function rabbitContext(h: Record<string, string>, raw: Record<string, unknown>): FailureContext {
  if (isOrderbusTask(h)) return taskFailure(h);
  if (isRabbitDeath(raw)) return rabbitDeathFailure(raw);
  return NO_FAILURE;
}

/**
 * Where a RabbitMQ dead letter goes back to: orderbus's original exchange and routing key, else
 * the queue RabbitMQ dead-lettered it from (through the default exchange, so that only that
 * queue gets it again, not every queue bound to the original exchange), else `<name>` for `<name>.dlq`.
 */
export function rabbitDestination(
  h: Record<string, string>,
  dlq: string,
): { exchange: string; routingKey: string } | null {
  const exchange = h[TaskHeaders.originalExchange];
  const routingKey = h[TaskHeaders.originalRoutingKey] ?? h[TaskHeaders.originalQueue];
  if (exchange !== undefined && routingKey) return { exchange, routingKey };
  if (isRabbitDeath(h)) {
    const origin = rabbitDeathFailure(h).origin;
    if (origin?.broker === 'rabbitmq' && origin.queue) return { exchange: '', routingKey: origin.queue };
  }
  if (dlq.endsWith('.dlq')) return { exchange: '', routingKey: dlq.slice(0, -'.dlq'.length) };
  return null;
}

/** `position` names a message that has neither a task id nor a message id. */
export function rabbitView(dlq: string, m: GetMessage | ConsumeMessage, position: number): DlqMessage {
  const rawHeaders = (m.properties.headers ?? {}) as Record<string, unknown>;
  const h = amqpHeaders(rawHeaders);
  const raw = m.content.toString('utf8');
  const { payload, error } = parseJson(raw);
  const dest = rabbitDestination(h, dlq);
  const props = m.properties as { messageId?: string };
  return {
    id: h[TaskHeaders.taskId] ?? props.messageId ?? `#${position}`,
    dlq,
    kind: 'rabbitmq',
    orderId: h[TaskHeaders.orderId] ?? orderIdOf(payload),
    payload,
    raw,
    decodeError: error,
    headers: h,
    ...rabbitContext(h, rawHeaders),
    destination: dest ? `${dest.exchange || '(default)'}/${dest.routingKey}` : null,
    redriveCount: headerNumber(h[TaskHeaders.redriveCount]) ?? 0,
  };
}

/**
 * The view the filter language sees: the message, its failure class (as `dlq list` counts it),
 * `count` (attempts, or RabbitMQ's death count) and the origin's fields as `originalTopic`,
 * `originalPartition`, `originalOffset`, `originalGroup`, `originalQueue`, `originalExchange`
 * and `originalRoutingKey`.
 */
export function filterView(m: DlqMessage): Record<string, unknown> {
  const o = m.origin;
  const origin =
    o?.broker === 'kafka'
      ? {
          originalTopic: o.topic,
          originalPartition: o.partition,
          originalOffset: o.offset,
          originalGroup: o.group,
        }
      : o?.broker === 'rabbitmq'
        ? {
            originalQueue: o.queue,
            originalExchange: o.exchange,
            originalRoutingKey: o.routingKeys[0] ?? null,
          }
        : {};
  return { ...m, failureClass: failureClass(m), count: m.attempts, ...origin };
}

/**
 * Another application's letter (Spring, Connect, or RabbitMQ's own dead-lettering of something
 * that is not an orderbus task): its payload is not validated as an event or task, and goes back
 * as it was unless edited.
 */
export function isForeignLetter(m: DlqMessage): boolean {
  if (m.format === 'spring-kafka' || m.format === 'kafka-connect') return true;
  return m.format === 'rabbitmq' && typeof (m.payload as { taskId?: unknown } | null)?.taskId !== 'string';
}

/** The view a redrive plans with: a foreign payload that is not JSON is planned as its text, so unedited it goes back byte for byte. */
export const plannedView = (m: DlqMessage): DlqMessage =>
  isForeignLetter(m) && m.payload === null ? { ...m, payload: m.raw, decodeError: null } : m;

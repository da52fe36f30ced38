import type { ConsumeMessage, GetMessage } from 'amqplib';
import type { EventCodec } from '../../events/codec.js';
import { KafkaDlqHeaders } from '../../events/types.js';
import { errorMessage } from '../../errors.js';
import { headerString } from '../../tasks/task.js';
import { TaskHeaders } from '../../tasks/topology.js';
import type { KafkaRecord } from '../../adapters/kafka-fetch.js';
import type { Json } from './edits.js';
import { headerNumber, kafkaFailure, taskFailure } from './failure.js';
import type { DlqMessage } from './types.js';

// How a dead letter, as either broker hands it over, is read into a `DlqMessage`.

const orderIdOf = (payload: Json | null): string | null =>
  (payload as { orderId?: string } | null)?.orderId ?? null;

/** Schema-registry framed events; plain JSON is shown (with the decode error) when the framing is wrong. */
async function decodeKafka(
  codec: EventCodec,
  r: KafkaRecord,
): Promise<{ payload: Json | null; error: string | null }> {
  try {
    return { payload: (await codec.decode(r.value)) as unknown as Json, error: null };
  } catch (e) {
    const raw = r.value?.toString('utf8') ?? '';
    try {
      return { payload: JSON.parse(raw) as Json, error: `${errorMessage(e)} (shown as plain JSON)` };
    } catch {
      return { payload: null, error: errorMessage(e) };
    }
  }
}

export async function kafkaView(codec: EventCodec, dlq: string, r: KafkaRecord): Promise<DlqMessage> {
  const { payload, error } = await decodeKafka(codec, r);
  const h = r.headers;
  return {
    id: `${r.partition}:${r.offset}`,
    dlq,
    kind: 'kafka',
    orderId: r.key?.toString('utf8') ?? orderIdOf(payload),
    payload,
    raw: r.value?.toString('utf8') ?? '',
    decodeError: error,
    headers: h,
    ...kafkaFailure(h, r.timestamp),
    destination: h[KafkaDlqHeaders.originalTopic] ?? null,
    redriveCount: headerNumber(h[KafkaDlqHeaders.redriveCount]) ?? 0,
  };
}

function amqpHeaders(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h ?? {})) {
    const v = headerString(h, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Where a RabbitMQ dead letter goes back to. */
export function rabbitDestination(
  h: Record<string, string>,
  dlq: string,
): { exchange: string; routingKey: string } | null {
  const exchange = h[TaskHeaders.originalExchange];
  const routingKey = h[TaskHeaders.originalRoutingKey] ?? h[TaskHeaders.originalQueue];
  if (exchange !== undefined && routingKey) return { exchange, routingKey };
  // Dead-lettered by the broker itself (delivery limit): back to the queue through the default exchange.
  if (dlq.endsWith('.dlq')) return { exchange: '', routingKey: dlq.slice(0, -'.dlq'.length) };
  return null;
}

/** `position` names a message that has neither a task id nor a message id. */
export function rabbitView(dlq: string, m: GetMessage | ConsumeMessage, position: number): DlqMessage {
  const h = amqpHeaders(m.properties.headers);
  const raw = m.content.toString('utf8');
  let payload: Json | null = null;
  let decodeError: string | null = null;
  try {
    payload = JSON.parse(raw) as Json;
  } catch (e) {
    decodeError = `not JSON: ${errorMessage(e)}`;
  }
  const dest = rabbitDestination(h, dlq);
  const props = m.properties as { messageId?: string };
  return {
    id: h[TaskHeaders.taskId] ?? props.messageId ?? `#${position}`,
    dlq,
    kind: 'rabbitmq',
    orderId: h[TaskHeaders.orderId] ?? orderIdOf(payload),
    payload,
    raw,
    decodeError,
    headers: h,
    ...taskFailure(h),
    destination: dest ? `${dest.exchange || '(default)'}/${dest.routingKey}` : null,
    redriveCount: headerNumber(h[TaskHeaders.redriveCount]) ?? 0,
  };
}

/** The view the filter language sees. */
export const filterView = (m: DlqMessage): Record<string, unknown> => ({ ...m });

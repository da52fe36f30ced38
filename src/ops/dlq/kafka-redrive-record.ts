import type { IHeaders } from 'kafkajs';
import type { KafkaRecord } from '../../adapters/kafka-fetch.js';
import type { EventCodec } from '../../events/codec.js';
import { EventHeaders, KafkaDlqHeaders, type EventEnvelope } from '../../events/types.js';
import { errorMessage } from '../../errors.js';
import type { Json } from './json.js';
import { FAILURE_HEADER_PREFIXES } from './foreign-failure.js';
import { isForeignLetter, plannedView } from './message-view.js';
import { decide, invalidate, type Decision } from './plan.js';
import type { DlqMessage, RedriveOptions } from './types.js';

/**
 * What one Kafka dead letter becomes when redriven, whoever wrote it. orderbus's letters are
 * events: validated, re-encoded through the registry when edited. Spring's and Connect's are
 * another application's records: their bytes go back as they were (an edited payload as its
 * JSON text), to the original topic, and to the original partition when Spring named it.
 */
const validateEvent = (p: Json): string[] => {
  const t = (p as { type?: unknown } | null)?.type;
  return typeof t === 'string' ? [] : ['an event envelope needs a string "type"'];
};

/** A record's plan, and the bytes to re-publish (the original ones when nothing changed). */
export async function planKafkaRecord(
  codec: EventCodec,
  view: DlqMessage,
  r: KafkaRecord,
  options: RedriveOptions,
): Promise<{ d: Decision; value: Buffer | null }> {
  const events = !isForeignLetter(view);
  // Another application's value need not be JSON (a Connect converter failed on it): unedited, it goes back as is.
  const asIs = plannedView(view);
  const d = decide(asIs, options, events ? validateEvent : () => []);
  let value: Buffer | null = null;
  if (d.item.valid) {
    try {
      if (!d.item.changed && asIs.decodeError === null && r.value) value = r.value;
      else if (events) value = await codec.encode(d.after as unknown as EventEnvelope);
      else value = Buffer.from(JSON.stringify(d.after));
    } catch (e) {
      invalidate(d, `schema: ${errorMessage(e)}`);
    }
  }
  if (d.item.valid && !view.destination) invalidate(d, 'no original topic in its headers');
  return { d, value };
}

/**
 * The original headers, byte for byte and repeated keys kept, without any writer's failure
 * context (`dlq-*`, `kafka_dlt-*`, `__connect.errors.*`), with the redrive's count and audit reference.
 */
export function kafkaRedriveHeaders(
  r: KafkaRecord,
  view: DlqMessage,
  d: Decision,
  auditRef: string | null,
): IHeaders {
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(r.rawHeaders))
    if (!FAILURE_HEADER_PREFIXES.some((p) => k.startsWith(p))) headers[k] = v.length === 1 ? v[0] : v;
  if (!isForeignLetter(view)) headers[EventHeaders.eventType] = String((d.after as { type?: unknown }).type);
  headers[KafkaDlqHeaders.redriveCount] = String(view.redriveCount + 1);
  headers[KafkaDlqHeaders.auditRef] = auditRef ?? '';
  return headers;
}

/** The original partition when the writer named one the topic still has (Spring); else by key. */
export async function kafkaRedrivePartition(
  view: DlqMessage,
  partitionsOf: (topic: string) => Promise<number>,
): Promise<number | undefined> {
  const o = view.origin;
  if (view.format !== 'spring-kafka' || o?.broker !== 'kafka' || o.partition === null) return undefined;
  return o.partition >= 0 && o.partition < (await partitionsOf(o.topic)) ? o.partition : undefined;
}

import {
  NO_FAILURE,
  headerNumber,
  kafkaOrigin,
  simpleClassName,
  type DlqOrigin,
  type FailureContext,
} from './failure.js';

/**
 * Failure context of dead letters other applications wrote, read from the headers their writer
 * leaves (samples of each in fixtures/dead-letters/):
 * - Spring Kafka's DeadLetterPublishingRecoverer: `kafka_dlt-*`; the original partition is a
 *   4-byte and the offset and timestamp 8-byte big-endian values (Java's ByteBuffer), not text;
 * - Kafka Connect's sink DLQ (`errors.deadletterqueue.context.headers.enable`): `__connect.errors.*`, all text;
 * - RabbitMQ's own dead-lettering: `x-death` (most recent death first) and `x-first-death-*`
 *   (`x-last-death-*` since 3.13).
 */

/** A Kafka record's headers: the last value of each as text, and every value as bytes. */
export interface KafkaHeaderValues {
  text: Record<string, string>;
  raw: Record<string, Buffer[]>;
}

export const SpringHeaders = {
  originalTopic: 'kafka_dlt-original-topic',
  originalPartition: 'kafka_dlt-original-partition',
  originalOffset: 'kafka_dlt-original-offset',
  originalTimestamp: 'kafka_dlt-original-timestamp',
  consumerGroup: 'kafka_dlt-original-consumer-group',
  exceptionFqcn: 'kafka_dlt-exception-fqcn',
  causeFqcn: 'kafka_dlt-exception-cause-fqcn',
  exceptionMessage: 'kafka_dlt-exception-message',
} as const;

export const ConnectHeaders = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  connector: '__connect.errors.connector.name',
  exceptionClass: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
} as const;

/** Header prefixes of each format's failure context: dropped when a letter is redriven. */
export const FAILURE_HEADER_PREFIXES = ['dlq-', 'kafka_dlt-', '__connect.errors.'] as const;

/** A header holding a number as 4 or 8 big-endian bytes (Spring) or as text (anyone else). */
export function binaryNumber(h: KafkaHeaderValues, name: string): number | null {
  const b = h.raw[name]?.at(-1);
  if (b?.length === 4) return b.readInt32BE(0);
  if (b?.length === 8) {
    const n = b.readBigInt64BE(0);
    if (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(n);
  }
  const text = h.text[name];
  return text !== undefined && /^-?\d+$/.test(text) ? headerNumber(text) : null;
}

export const isSpring = (h: Record<string, string>): boolean =>
  h[SpringHeaders.originalTopic] !== undefined || h[SpringHeaders.exceptionFqcn] !== undefined;

/** A JVM writer's letter: the exception's simple class name; no header says when it failed, so when it was written. */
function javaFailure(
  format: 'spring-kafka' | 'kafka-connect',
  fqcn: string | undefined,
  message: string | undefined,
  writtenAt: number,
  origin: DlqOrigin | null,
): FailureContext {
  return {
    ...NO_FAILURE,
    format,
    errorClass: fqcn ? simpleClassName(fqcn) : null,
    errorMessage: message ?? null,
    lastFailureAt: new Date(writtenAt).toISOString(),
    origin,
  };
}

/** Spring Kafka: the cause's class when Spring wrapped it (ListenerExecutionFailedException), else the exception's. */
export function springFailure(h: KafkaHeaderValues, writtenAt: number): FailureContext {
  const t = h.text;
  const origin = kafkaOrigin(
    t[SpringHeaders.originalTopic],
    binaryNumber(h, SpringHeaders.originalPartition),
    binaryNumber(h, SpringHeaders.originalOffset),
    t[SpringHeaders.consumerGroup] ?? null,
  );
  const fqcn = t[SpringHeaders.causeFqcn] ?? t[SpringHeaders.exceptionFqcn];
  return javaFailure('spring-kafka', fqcn, t[SpringHeaders.exceptionMessage], writtenAt, origin);
}

export const isConnect = (h: Record<string, string>): boolean =>
  h[ConnectHeaders.topic] !== undefined || h[ConnectHeaders.exceptionClass] !== undefined;

/** Kafka Connect (its sink task's group is `connect-<connector>`); it keeps the original record's timestamp. */
export function connectFailure(h: Record<string, string>, writtenAt: number): FailureContext {
  const connector = h[ConnectHeaders.connector];
  const origin = kafkaOrigin(
    h[ConnectHeaders.topic],
    headerNumber(h[ConnectHeaders.partition]),
    headerNumber(h[ConnectHeaders.offset]),
    connector ? `connect-${connector}` : null,
  );
  return javaFailure(
    'kafka-connect',
    h[ConnectHeaders.exceptionClass],
    h[ConnectHeaders.exceptionMessage],
    writtenAt,
    origin,
  );
}

/** One entry of `x-death`: a queue and reason the message died for, how often, and since when. */
interface Death {
  queue: string | null;
  reason: string | null;
  exchange: string | null;
  routingKeys: string[];
  count: number | null;
  /** Seconds since the epoch. */
  time: number | null;
}

const text = (v: unknown): string | null =>
  typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : null;

/** amqplib gives a timestamp as `{ "!": "timestamp", value }`; the management API as a number. */
function seconds(v: unknown): number | null {
  const raw = typeof v === 'object' && v !== null && 'value' in v ? v.value : v;
  return typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
}

function deathOf(v: unknown): Death | null {
  if (typeof v !== 'object' || v === null) return null;
  const d = v as Record<string, unknown>;
  const keys = d['routing-keys'];
  return {
    queue: text(d.queue),
    reason: text(d.reason),
    exchange: text(d.exchange),
    routingKeys: Array.isArray(keys) ? keys.map(text).filter((k): k is string => k !== null) : [],
    count: typeof d.count === 'number' ? d.count : null,
    time: seconds(d.time),
  };
}

/** `x-death` as amqplib decodes it, or as JSON text (a message view's headers hold it so). */
function deathsOf(h: Record<string, unknown>): Death[] {
  let v = h['x-death'];
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v) as unknown;
    } catch {
      return [];
    }
  }
  return Array.isArray(v) ? v.map(deathOf).filter((d): d is Death => d !== null) : [];
}

export const isRabbitDeath = (h: Record<string, unknown>): boolean =>
  h['x-death'] !== undefined || h['x-first-death-queue'] !== undefined;

const iso = (s: number | null): string | null => (s === null ? null : new Date(s * 1000).toISOString());

/** RabbitMQ's own dead-lettering; the most recent death is the one that brought it to this queue. */
export function rabbitDeathFailure(h: Record<string, unknown>): FailureContext {
  const deaths = deathsOf(h);
  const last = deaths[0];
  const reason = last?.reason ?? text(h['x-last-death-reason']) ?? text(h['x-first-death-reason']);
  const times = deaths.map((d) => d.time).filter((t): t is number => t !== null);
  return {
    ...NO_FAILURE,
    format: 'rabbitmq',
    attempts: last?.count ?? null,
    errorClass: `rabbitmq:${reason ?? 'unknown'}`,
    reason,
    firstFailureAt: iso(times.length > 0 ? Math.min(...times) : null),
    lastFailureAt: iso(last?.time ?? null),
    origin: {
      broker: 'rabbitmq',
      queue: last?.queue ?? text(h['x-last-death-queue']) ?? text(h['x-first-death-queue']),
      exchange: last?.exchange ?? text(h['x-last-death-exchange']) ?? text(h['x-first-death-exchange']),
      routingKeys: last?.routingKeys ?? [],
    },
  };
}

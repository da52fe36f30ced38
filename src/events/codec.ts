import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry, registryUnreachable, SchemaType, type Registry } from '../adapters/registry.js';
import type { OrderbusConfig } from '../config.js';
import { projectRoot } from '../paths.js';
import { EVENT_TYPES, EventHeaders, isEventType, type EventEnvelope, type EventType } from './types.js';

/**
 * Encodes envelopes through the schema registry (Confluent wire format, JSON Schema, one subject
 * per event type: `<topic>-<type>`) and decodes and validates them. Decoding failures carry an
 * error class the DLQ groups by: UndecodableRecord, SchemaInvalid, UnknownEventType.
 */
export class EventDecodeError extends Error {
  constructor(
    readonly errorClass: 'UndecodableRecord' | 'SchemaInvalid' | 'UnknownEventType',
    message: string,
  ) {
    super(message);
    this.name = errorClass;
  }
}

export const SCHEMA_VERSION = 1;

let dataSchemas: Record<string, unknown> | undefined;
export function eventDataSchemas(): Record<string, unknown> {
  dataSchemas ??= JSON.parse(
    readFileSync(join(projectRoot(), 'src', 'events', 'event-data.schema.json'), 'utf8'),
  ) as Record<string, unknown>;
  return dataSchemas;
}

export function envelopeSchema(type: EventType): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: type,
    type: 'object',
    required: [
      'eventId',
      'type',
      'orderId',
      'correlationId',
      'causationId',
      'occurredAt',
      'source',
      'schemaVersion',
      'data',
    ],
    properties: {
      eventId: { type: 'string', minLength: 1 },
      type: { const: type },
      orderId: { type: 'string', minLength: 1 },
      correlationId: { type: 'string' },
      causationId: { type: 'string' },
      occurredAt: { type: 'string', minLength: 10 },
      source: { type: 'string' },
      schemaVersion: { type: 'integer', minimum: 1 },
      data: eventDataSchemas()[type],
    },
  };
}

export class EventCodec {
  private readonly ids = new Map<EventType, number>();
  private registering: Promise<void> | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly topic: string,
    private readonly registryUrl: string,
  ) {}

  static fromConfig(config: OrderbusConfig, topic = config.topics.orderEvents): EventCodec {
    return new EventCodec(createRegistry(config), topic, config.registry.url);
  }

  subject(type: EventType): string {
    return `${this.topic}-${type}`;
  }

  /** Registers every event type's schema once (idempotent at the registry). */
  async register(): Promise<void> {
    this.registering ??= (async () => {
      for (const type of EVENT_TYPES) {
        try {
          const { id } = await this.registry.register(
            { type: SchemaType.JSON, schema: JSON.stringify(envelopeSchema(type)) },
            { subject: this.subject(type) },
          );
          this.ids.set(type, id);
        } catch (e) {
          this.registering = undefined;
          if (
            e instanceof Error &&
            /ECONNREFUSED|fetch failed|ETIMEDOUT/.test(
              `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}`,
            )
          ) {
            throw registryUnreachable({ registry: { url: this.registryUrl } } as OrderbusConfig, e);
          }
          throw e;
        }
      }
    })();
    return this.registering;
  }

  async encode(envelope: EventEnvelope): Promise<Buffer> {
    await this.register();
    const id = this.ids.get(envelope.type);
    if (id === undefined)
      throw new EventDecodeError('UnknownEventType', `no schema for event type ${envelope.type}`);
    return this.registry.encode(id, envelope);
  }

  async decode(value: Buffer | null): Promise<EventEnvelope> {
    if (!value || value.length < 6 || value[0] !== 0)
      throw new EventDecodeError(
        'UndecodableRecord',
        'not in the registry wire format (magic byte 0 + schema id)',
      );
    let decoded: unknown;
    try {
      decoded = await this.registry.decode(value);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/invalid payload/i.test(msg))
        throw new EventDecodeError(
          'SchemaInvalid',
          `payload does not match its schema: ${msg} ${JSON.stringify((e as { paths?: unknown }).paths ?? [])}`,
        );
      throw new EventDecodeError('UndecodableRecord', `cannot decode: ${msg}`);
    }
    const env = decoded as EventEnvelope;
    if (typeof env !== 'object' || env === null || !isEventType(String(env.type))) {
      throw new EventDecodeError(
        'UnknownEventType',
        `unknown event type ${JSON.stringify((env as { type?: unknown } | null)?.type)}`,
      );
    }
    return env;
  }
}

/** Kafka headers every event carries. */
export function eventHeaders(e: EventEnvelope): Record<string, string> {
  return {
    [EventHeaders.eventType]: e.type,
    [EventHeaders.correlationId]: e.correlationId,
    [EventHeaders.source]: e.source,
    [EventHeaders.eventId]: e.eventId,
  };
}

/** A new event caused by `cause` (same order and correlation). */
export function nextEvent<D extends Record<string, unknown>>(
  cause: Pick<EventEnvelope, 'eventId' | 'orderId' | 'correlationId'>,
  type: EventType,
  source: string,
  data: D,
  eventId: string = randomUUID(),
): EventEnvelope<D> {
  return {
    eventId,
    type,
    orderId: cause.orderId,
    correlationId: cause.correlationId,
    causationId: cause.eventId,
    occurredAt: new Date().toISOString(),
    source,
    schemaVersion: SCHEMA_VERSION,
    data,
  };
}

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createRegistry,
  registryRefusalKind,
  registryUnreachable,
  SchemaType,
  type Registry,
} from '../adapters/registry.js';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError } from '../errors.js';
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
    /** TEST-ONLY (registry.unsafeFailuresArePoison): decode treats a registry that is away as poison. */
    private readonly unsafeFailuresArePoison = false,
    /** The context the registry is reached through, for the errors' hints. */
    private readonly context?: string,
  ) {}

  static fromConfig(config: OrderbusConfig, topic = config.topics.orderEvents): EventCodec {
    return new EventCodec(
      createRegistry(config),
      topic,
      config.registry.url,
      config.registry.unsafeFailuresArePoison,
      config.context,
    );
  }

  subject(type: EventType): string {
    return `${this.topic}-${type}`;
  }

  /**
   * Registers every event type's schema once (idempotent at the registry); false when the
   * registry is away. That is no reason to fail a service's start: the first encode registers
   * them, and its REGISTRY_UNREACHABLE is retried by the caller like any transient failure.
   */
  async register(): Promise<boolean> {
    try {
      await this.registerAll();
      return true;
    } catch (e) {
      if (e instanceof OrderbusError && e.code === 'REGISTRY_UNREACHABLE') return false;
      throw e;
    }
  }

  private async registerAll(): Promise<void> {
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
          const failure = registryFailure(e);
          if (failure === 'transient' || failure === 'refused') throw this.unreachable(e);
          throw e;
        }
      }
    })();
    return this.registering;
  }

  async encode(envelope: EventEnvelope): Promise<Buffer> {
    await this.registerAll();
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
      const failure = registryFailure(e);
      // The registry being away is not the record's fault: the caller retries, never dead-letters
      // (unless a test-only build is told to, as the code before this classifier did).
      // Nor are refused credentials or certificates: REGISTRY_AUTH_FAILED / REGISTRY_TLS_FAILED.
      if ((failure === 'transient' && !this.unsafeFailuresArePoison) || failure === 'refused')
        throw this.unreachable(e);
      if (failure === 'invalid')
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

  private unreachable(e: unknown) {
    return registryUnreachable({ registry: { url: this.registryUrl }, context: this.context }, e);
  }
}

/**
 * What a registry client failure means for the record: `transient` (no answer, a timeout, a 5xx
 * or 429 — retry later), `invalid` (the payload fails its schema), `poison` (the registry answered
 * and the record cannot be read: an id it does not have, bytes that do not parse), `refused` (it
 * refused the credentials or the TLS handshake: the settings are wrong, never the record).
 */
export function registryFailure(e: unknown): 'transient' | 'invalid' | 'poison' | 'refused' {
  if (typeof e !== 'object' || e === null) return 'poison';
  if (registryRefusalKind(e)) return 'refused';
  const { status, name, message } = e as { status?: unknown; name?: unknown; message?: unknown };
  if (name === 'ConfluentSchemaRegistryValidationError') return 'invalid';
  if (typeof status !== 'number') return 'poison';
  if (status >= 500 || status === 429 || status === 408) return 'transient';
  // mappersmith reports a request that got no answer (refused, reset, timed out) as a 400 whose
  // body is its own text, where a registry's 4xx carries a JSON message (`error_code`).
  if (status === 400 && /Error, status 400: /.test(String(message))) return 'transient';
  return 'poison';
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

import { isUtf8 } from 'node:buffer';
import { createRegistry, registryUnreachable, type Registry } from '../adapters/registry.js';
import type { KafkaRecord } from '../adapters/kafka-fetch.js';
import { registryFailure } from '../events/codec.js';
import type { OrderbusConfig } from '../config.js';
import { errorMessage } from '../errors.js';

/**
 * One record of `orderbus read` as the operator sees it and as `--json` prints it (one object a
 * line). Bytes that are not text (valid UTF-8 without control characters) are shown as base64,
 * so nothing is lost and no terminal is garbled.
 */
export interface ReadHeader {
  key: string;
  value: string;
  encoding: 'utf8' | 'base64';
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  keyEncoding: 'utf8' | 'base64' | null;
  /** In record order; a repeated header key appears once per value. */
  headers: ReadHeader[];
  /** The value as text, or base64 when it is not text (registry-framed values always). */
  value: string | null;
  valueEncoding: 'utf8' | 'base64' | null;
  /** The value as JSON: decoded by the schema registry (Confluent wire format) or parsed JSON text. */
  decoded?: unknown;
  /** The registry schema id of a Confluent wire-format value. */
  schemaId?: number;
  /** Why a registry-framed value could not be decoded (its bytes are in `value`, base64). */
  decodeError?: string;
}

// Text is UTF-8 without C0 control characters other than tab and newlines (and no DEL).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function bytesView(b: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  if (isUtf8(b)) {
    const text = b.toString('utf8');
    if (!CONTROL.test(text)) return { text, encoding: 'utf8' };
  }
  return { text: b.toString('base64'), encoding: 'base64' };
}

/** Confluent wire format: magic byte 0, a 4-byte schema id, then the encoded value. */
export function schemaIdOf(value: Buffer | null): number | undefined {
  return value && value.length >= 5 && value[0] === 0 ? value.readInt32BE(1) : undefined;
}

/**
 * Decodes registry-framed values through the registry adapter (any schema type the client reads:
 * Avro, JSON Schema, Protobuf). A registry that does not answer is asked once: the read goes on
 * showing raw bytes rather than stalling on every record.
 */
export class RecordDecoder {
  private registry: Registry | undefined;
  private unreachable: string | undefined;

  constructor(private readonly config: OrderbusConfig) {}

  async view(r: KafkaRecord): Promise<ReadRecord> {
    const key = r.key ? bytesView(r.key) : null;
    const value = r.value ? bytesView(r.value) : null;
    const out: ReadRecord = {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: new Date(r.timestamp).toISOString(),
      key: key?.text ?? null,
      keyEncoding: key?.encoding ?? null,
      headers: Object.entries(r.rawHeaders).flatMap(([k, vs]) =>
        vs.map((v) => {
          const h = bytesView(v);
          return { key: k, value: h.text, encoding: h.encoding };
        }),
      ),
      value: value?.text ?? null,
      valueEncoding: value?.encoding ?? null,
    };
    const schemaId = schemaIdOf(r.value);
    if (schemaId !== undefined && r.value) {
      out.schemaId = schemaId;
      out.value = r.value.toString('base64');
      out.valueEncoding = 'base64';
      Object.assign(out, await this.decode(r.value));
    } else if (value?.encoding === 'utf8') {
      const json = parseJson(value.text);
      if (json !== undefined) out.decoded = json;
    }
    return out;
  }

  private async decode(value: Buffer): Promise<{ decoded: unknown } | { decodeError: string }> {
    if (this.unreachable !== undefined) return { decodeError: this.unreachable };
    if (!this.config.registry.url) return { decodeError: 'no schema registry configured (registry.url)' };
    this.registry ??= createRegistry(this.config);
    try {
      return { decoded: (await this.registry.decode(value)) as unknown };
    } catch (e) {
      const message = errorMessage(e);
      const failure = registryFailure(e);
      if (failure === 'refused') {
        // Refused credentials or certificates: every record would fail alike, so say it once, with the hint.
        const refused = registryUnreachable(this.config, e);
        this.unreachable = `error[${refused.code}]: ${refused.message} (hint: ${refused.hint ?? ''})`;
        return { decodeError: this.unreachable };
      }
      if (failure === 'transient') {
        this.unreachable = `schema registry unreachable: ${message}`;
        return { decodeError: this.unreachable };
      }
      return { decodeError: message };
    }
  }
}

function parseJson(text: string): unknown {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** What `--filter` sees: the dlq filter language over key, headers.NAME, payload.a.b (value.a.b). */
export function filterView(r: ReadRecord): Record<string, unknown> {
  const payload = r.decoded !== undefined ? r.decoded : r.value;
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    schemaId: r.schemaId,
    headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
    payload,
    value: payload,
  };
}

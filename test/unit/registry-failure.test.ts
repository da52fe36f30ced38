import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { EventCodec, EventDecodeError, registryFailure } from '../../src/events/codec.js';
import { isOrderbusError } from '../../src/errors.js';

// A record in the wire format (magic 0, schema id 7, a JSON body): what decode asks the registry about.
const record = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('{}')]);

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A local HTTP server standing in for the registry's answers (status + body). */
async function registryAnswering(status: number, body: unknown): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function decodeFailure(host: string): Promise<unknown> {
  const codec = new EventCodec(new SchemaRegistry({ host }), 'order.events', host);
  return codec.decode(record).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('registry failures while decoding', () => {
  it('a registry that does not answer is transient: retried, never dead-lettered', async () => {
    const e = await decodeFailure('http://127.0.0.1:1');
    expect(isOrderbusError(e) && e.code).toBe('REGISTRY_UNREACHABLE');
    expect(isOrderbusError(e) && e.retriable).toBe(true);
  });

  it.each([500, 503, 429])('a registry answering %i is transient', async (status) => {
    const e = await decodeFailure(
      await registryAnswering(status, { error_code: status * 100, message: 'busy' }),
    );
    expect(isOrderbusError(e) && e.code).toBe('REGISTRY_UNREACHABLE');
  });

  it('an id the registry does not have is poison (UndecodableRecord)', async () => {
    const e = await decodeFailure(
      await registryAnswering(404, { error_code: 40403, message: 'Schema 7 not found' }),
    );
    expect(e).toBeInstanceOf(EventDecodeError);
    expect((e as EventDecodeError).errorClass).toBe('UndecodableRecord');
  });

  it('classifies errors without an HTTP status as poison, schema validation as invalid', () => {
    expect(registryFailure(new SyntaxError('Unexpected token'))).toBe('poison');
    expect(
      registryFailure(
        Object.assign(new Error('invalid payload'), { name: 'ConfluentSchemaRegistryValidationError' }),
      ),
    ).toBe('invalid');
  });
});

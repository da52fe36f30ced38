import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { EventCodec, nextEvent } from '../../src/events/codec.js';
import { isOrderbusError } from '../../src/errors.js';

// A service (re)started while the registry is away: its start must not fail (the relay exited
// with REGISTRY_UNREACHABLE in the registry-restart drill), and encoding fails transiently —
// never as UnknownEventType, which the relay would park as poison.
describe('registering the schemas while the registry is away', () => {
  const host = 'http://127.0.0.1:1';
  const codec = () => new EventCodec(new SchemaRegistry({ host }), 'order.events', host);

  it('register() answers false instead of failing the start', async () => {
    await expect(codec().register()).resolves.toBe(false);
  });

  it('encode() fails with the retriable REGISTRY_UNREACHABLE', async () => {
    const event = nextEvent(
      { eventId: 'e-1', orderId: 'o-1', correlationId: 'c-1' },
      'order.placed',
      'test',
      {},
    );
    const e = await codec()
      .encode(event)
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(isOrderbusError(e) && e.code).toBe('REGISTRY_UNREACHABLE');
    expect(isOrderbusError(e) && e.retriable).toBe(true);
  });
});

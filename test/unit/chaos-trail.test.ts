import { describe, expect, it } from 'vitest';
import { whereOrderStopped } from '../../src/devstack/chaos/invariants.js';
import type { TraceResult } from '../../src/ops/trace.js';

const ID = '0b6c1c52-8f0e-4f57-9a47-5d1b2f0e6a11';

function trace(over: Partial<TraceResult>): TraceResult {
  return {
    orderId: ID,
    topic: 'd1.order.events',
    partition: 3,
    status: 'pending',
    entries: [],
    groups: [],
    unavailable: [],
    scannedRecords: 0,
    ...over,
  };
}

describe('whereOrderStopped (the drill report line for a lost order)', () => {
  it('shows a record on the topic that a group committed past without claiming it', () => {
    const line = whereOrderStopped(
      trace({
        entries: [
          {
            at: null,
            source: 'kafka',
            where: 'd1.order.events/3@45',
            what: 'order.placed',
            details: { offset: 45 },
          },
          {
            at: null,
            source: 'database',
            where: 'outbox',
            what: 'order.placed sent 2026-11-29T12:00:00.000Z; handled by no consumer yet',
            details: {
              type: 'order.placed',
              eventId: 'e1',
              sentAt: '2026-11-29T12:00:00.000Z',
              handledBy: [],
            },
          },
        ],
        groups: [
          { group: 'd1.payment', committed: 50, unseen: [] },
          { group: 'other.payment', committed: 1, unseen: [] },
          { group: 'd1.saga', committed: 40, unseen: [{ offset: 45, type: 'order.placed' }] },
        ],
      }),
      'd1.',
    );
    expect(line).toBe(
      `${ID} (pending); d1.order.events/3: order.placed@45; outbox: order.placed sent []; groups: payment@50, saga@40 (1 unseen); ledger: none`,
    );
  });

  it('shows an event marked sent that is not on the topic, and what could not be read', () => {
    const line = whereOrderStopped(
      trace({
        status: null,
        entries: [
          {
            at: null,
            source: 'database',
            where: 'outbox',
            what: 'order.placed sent …',
            details: {
              type: 'order.placed',
              eventId: 'e1',
              sentAt: '2026-11-29T12:00:00.000Z',
              handledBy: ['payment'],
            },
          },
          { at: null, source: 'provider', where: 'payment', what: 'charge (key payment-x)' },
          {
            at: null,
            source: 'kafka-dlq',
            where: 'd1.order.events.dlq 0:1',
            what: 'dead letter: SchemaInvalid',
          },
        ],
        unavailable: [{ source: 'rabbitmq', error: 'ECONNREFUSED' }],
      }),
      'd1.',
    );
    expect(line).toBe(
      `${ID} (no row); d1.order.events/3: no records; outbox: order.placed sent [payment]; groups: none; ledger: payment charge; dead letters: dead letter: SchemaInvalid; unreadable: rabbitmq`,
    );
  });
});

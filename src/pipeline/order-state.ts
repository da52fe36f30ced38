import type { EventType } from '../events/types.js';

/**
 * The order state machine: pending → paid → reserved → shipped → notified, with compensating,
 * failed and cancelled. A pure function: what an event does to an order in a status, and which
 * compensations it calls for. Anything else is rejected (a skipped or repeated step).
 */
export type OrderStatus =
  'pending' | 'paid' | 'reserved' | 'shipped' | 'notified' | 'compensating' | 'failed' | 'cancelled';

export type Compensation = 'refund' | 'release' | 'fail';

export interface Transition {
  to: OrderStatus;
  compensate: Compensation[];
}

const LIVE: OrderStatus[] = ['pending', 'paid', 'reserved'];

export function transition(from: OrderStatus, event: EventType): Transition | null {
  switch (event) {
    case 'order.placed':
      return from === 'pending' ? { to: 'pending', compensate: [] } : null;
    case 'payment.captured':
      if (from === 'pending') return { to: 'paid', compensate: [] };
      // Paid after the customer cancelled: give the money back.
      if (from === 'cancelled') return { to: 'cancelled', compensate: ['refund'] };
      return null;
    case 'payment.failed':
      return from === 'pending'
        ? { to: 'failed', compensate: ['fail'] }
        : from === 'cancelled'
          ? { to: 'cancelled', compensate: [] }
          : null;
    case 'inventory.reserved':
      if (from === 'paid') return { to: 'reserved', compensate: [] };
      if (from === 'cancelled') return { to: 'cancelled', compensate: ['release'] };
      return null;
    case 'inventory.failed':
      if (from === 'paid') return { to: 'compensating', compensate: ['refund', 'fail'] };
      if (from === 'cancelled') return { to: 'cancelled', compensate: [] };
      return null;
    case 'shipping.created':
      return from === 'reserved' ? { to: 'shipped', compensate: [] } : null;
    case 'shipping.failed':
      return from === 'reserved' ? { to: 'compensating', compensate: ['release', 'refund', 'fail'] } : null;
    case 'customer.notified':
      return from === 'shipped' ? { to: 'notified', compensate: [] } : null;
    case 'order.cancelled':
      if (from === 'pending') return { to: 'cancelled', compensate: [] };
      if (from === 'paid') return { to: 'cancelled', compensate: ['refund'] };
      if (from === 'reserved') return { to: 'cancelled', compensate: ['release', 'refund'] };
      return null;
    case 'payment.refunded':
    case 'inventory.released':
      // Facts about compensation already decided; they never move the order.
      return from === 'compensating' || from === 'cancelled' || from === 'failed'
        ? { to: from, compensate: [] }
        : null;
    case 'order.failed':
      return from === 'compensating' || from === 'failed' ? { to: 'failed', compensate: [] } : null;
  }
}

export function isLive(status: OrderStatus): boolean {
  return LIVE.includes(status);
}

/** Statuses from which a cancel is allowed (the API answers 409 otherwise). */
export function cancellable(status: OrderStatus): boolean {
  return LIVE.includes(status);
}

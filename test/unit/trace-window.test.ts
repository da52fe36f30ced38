import { describe, expect, it } from 'vitest';
import { DEFAULT_WINDOW_MS, SEEK_MARGIN_MS, traceWindowTimes, type OrderTimes } from '../../src/ops/trace.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const H = 3_600_000;
const order = (over: Partial<OrderTimes> = {}): OrderTimes => ({
  createdAt: new Date(NOW - 5 * H),
  lastAt: new Date(NOW - 4 * H),
  open: false,
  ...over,
});

describe('traceWindowTimes (which stretch of the partition trace reads)', () => {
  it.each([
    [
      'the order row: placement to last event, a margin either side',
      order(),
      false,
      undefined,
      { basis: 'order', from: NOW - 5 * H - SEEK_MARGIN_MS, until: NOW - 4 * H + SEEK_MARGIN_MS },
    ],
    [
      'an unsent outbox row: to the end',
      order({ open: true }),
      false,
      undefined,
      { basis: 'order', from: NOW - 5 * H - SEEK_MARGIN_MS, until: null },
    ],
    [
      'dead letters (a redrive may publish again later): to the end',
      order(),
      true,
      undefined,
      { basis: 'order', from: NOW - 5 * H - SEEK_MARGIN_MS, until: null },
    ],
    [
      'a last event within the margin of now: to the end',
      order({ lastAt: new Date(NOW - 60_000) }),
      false,
      undefined,
      { basis: 'order', from: NOW - 5 * H - SEEK_MARGIN_MS, until: null },
    ],
    [
      'no order row: the last day',
      null,
      false,
      undefined,
      { basis: 'default', from: NOW - DEFAULT_WINDOW_MS, until: null },
    ],
    [
      '--since wins over the row',
      order(),
      false,
      new Date(NOW - 48 * H),
      { basis: 'since', from: NOW - 48 * H, until: null },
    ],
  ] as const)('%s', (_name, times, deadLetters, since, expected) => {
    expect(traceWindowTimes(times, { deadLetters, now: NOW, ...(since ? { since } : {}) })).toEqual(expected);
  });
});

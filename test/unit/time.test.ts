import { describe, expect, it } from 'vitest';
import { daysInMonth, parseDatetime, parseDuration } from '../../src/time.js';

/** Expects a usage error (exit 2) with this code and a message matching `text`. */
const usage = (f: () => unknown, code: string, text: RegExp) =>
  expect(f).toThrow(
    expect.objectContaining({
      name: 'OrderbusError',
      code,
      exitCode: 2,
      message: expect.stringMatching(text),
    }),
  );

describe('parseDuration', () => {
  it.each([
    ['P1DT2H3M', ((24 + 2) * 60 + 3) * 60000],
    ['PT30M', 30 * 60000],
    ['PT1.5S', 1500],
    ['P7D', 7 * 86_400_000],
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 30 * 60000],
    ['1.5m', 90_000],
    ['2h', 2 * 3_600_000],
    ['7d', 7 * 86_400_000],
    ['1h30m', 90 * 60000],
    ['1d2h3m4s5ms', (((24 + 2) * 60 + 3) * 60 + 4) * 1000 + 5],
    ['60', 60_000],
    ['0', 0],
    [' 20s ', 20_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text, '--duration')).toBe(ms);
  });

  it.each(['PT', 'P', '', 'm', '30x', '30m1h', '1h1h', '-5s', 'P1M', 'P15M', '15 minutes', 'PT30m'])(
    'refuses %j with a usage error naming the flag',
    (text) => {
      usage(() => parseDuration(text, '--by-duration'), 'BAD_DURATION', /^--by-duration takes a duration/);
    },
  );

  it('gives the hint it is handed', () => {
    expect(() => parseDuration('soon', '--duration', 'orderbus load --duration 60s')).toThrow(
      expect.objectContaining({ hint: 'orderbus load --duration 60s' }),
    );
  });
});

describe('parseDatetime', () => {
  it('accepts Z or an offset, with or without seconds and milliseconds', () => {
    expect(parseDatetime('2026-11-23T10:00Z', '--since').toISOString()).toBe('2026-11-23T10:00:00.000Z');
    expect(parseDatetime('2026-11-23T10:00:00+01:00', '--since').toISOString()).toBe(
      '2026-11-23T09:00:00.000Z',
    );
    expect(parseDatetime('2026-11-23T10:00:00+02:00', '--since').toISOString()).toBe(
      '2026-11-23T08:00:00.000Z',
    );
    expect(parseDatetime('2026-11-23T00:30:00-05:30', '--since').toISOString()).toBe(
      '2026-11-23T06:00:00.000Z',
    );
    expect(parseDatetime('2026-11-23T10:00:00+0100', '--since').toISOString()).toBe(
      '2026-11-23T09:00:00.000Z',
    );
    expect(parseDatetime('2026-11-23T10:00:00.5Z', '--since').toISOString()).toBe('2026-11-23T10:00:00.500Z');
    expect(parseDatetime('2026-11-23T10:00:00.123Z', '--since').toISOString()).toBe(
      '2026-11-23T10:00:00.123Z',
    );
  });

  it('an offset can move the time into another day', () => {
    expect(parseDatetime('2026-01-01T00:30+02:00', '--from-time').toISOString()).toBe(
      '2025-12-31T22:30:00.000Z',
    );
  });

  it('refuses zoneless times and names the fix', () => {
    usage(() => parseDatetime('2026-11-23T10:00:00', '--to-datetime'), 'BAD_DATETIME', /no time zone/);
    expect(() => parseDatetime('2026-11-23T10:00', '--since')).toThrow(
      expect.objectContaining({ hint: '--since 2026-11-23T10:00Z' }),
    );
  });

  it.each([
    '2026-02-30T10:00Z',
    '2026-02-29T10:00Z',
    '2100-02-29T00:00Z',
    '2026-04-31T10:00Z',
    '2026-13-01T10:00Z',
    '2026-00-10T10:00Z',
    '2026-01-00T10:00Z',
    '2026-01-01T24:00Z',
    '2026-01-01T10:60Z',
    '2026-01-01T10:00:60Z',
    '2026-01-01T10:00+24:00',
    '2026-01-01T10:00+01:60',
  ])('refuses the impossible %s instead of rolling it over', (text) => {
    usage(() => parseDatetime(text, '--since'), 'BAD_DATETIME', /is not a valid time/);
  });

  it('accepts 29 February in leap years only', () => {
    expect(parseDatetime('2028-02-29T12:00Z', '--since').toISOString()).toBe('2028-02-29T12:00:00.000Z');
    expect(parseDatetime('2000-02-29T12:00Z', '--since').toISOString()).toBe('2000-02-29T12:00:00.000Z');
    expect(daysInMonth(2026, 2)).toBe(28);
    expect(daysInMonth(1900, 2)).toBe(28);
    expect(daysInMonth(2024, 2)).toBe(29);
  });

  it.each(['2026-11-23', 'yesterday', '2026-11-23 10:00Z', '2026-11-23t10:00z', '1700000000'])(
    'refuses %j as not ISO 8601 with a zone',
    (text) => {
      usage(() => parseDatetime(text, '--since'), 'BAD_DATETIME', /takes an ISO 8601 time with a zone/);
    },
  );
});

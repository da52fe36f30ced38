import { usageError } from './errors.js';

/**
 * The one duration syntax and the one datetime syntax of every flag (`--duration`, `--by-duration`,
 * `--since`, `--to-datetime`, `--from-time`, `--until`…). Both throw a usage error (exit 2) that
 * names the flag.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

// Kafka's --by-duration form (Java's Duration.parse without weeks, months or years).
const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const NUMBER = String.raw`\d+(?:\.\d+)?`;
const SHORT_DURATION = new RegExp(`^(?:${NUMBER}(?:ms|[dhms]))+$`);
const SHORT_PART = new RegExp(`(${NUMBER})(ms|[dhms])`, 'g');

/**
 * A duration in milliseconds: ISO 8601 `PnDTnHnMnS` (PT15M, P1DT2H), or short parts largest unit
 * first (500ms, 90s, 30m, 2h, 7d, 1h30m, 1.5m), or a bare number of seconds (60; 0 is allowed).
 */
export function parseDuration(s: string, flag: string, hint?: string): number {
  const ms = durationMs(s);
  if (ms === undefined)
    throw usageError(
      'BAD_DURATION',
      `${flag} takes a duration like 90s, 30m, 1h30m, 7d or PT15M, got '${s}'`,
      hint ?? `${flag} 30m`,
    );
  return ms;
}

/** parseDuration's reading, or undefined when `s` is no duration (for flags that take either). */
export function durationMs(s: string): number | undefined {
  const text = s.trim();
  return isoDuration(text) ?? shortDuration(text);
}

function isoDuration(s: string): number | undefined {
  const m = ISO_DURATION.exec(s);
  if (!m || s === 'P' || s.endsWith('T')) return undefined;
  const [, d, h, mi, sec] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(mi ?? 0)) * 60000 + Number(sec ?? 0) * 1000;
}

function shortDuration(s: string): number | undefined {
  if (new RegExp(`^${NUMBER}$`).test(s)) return Number(s) * UNIT_MS.s;
  if (!SHORT_DURATION.test(s)) return undefined;
  let total = 0;
  let last = -1;
  for (const [, n, unit] of s.matchAll(SHORT_PART)) {
    const rank = UNIT_ORDER.indexOf(unit as Unit);
    // 1h30m, not 30m1h or 1h1h: each unit once, largest first.
    if (rank <= last) return undefined;
    last = rank;
    total += Number(n) * UNIT_MS[unit as Unit];
  }
  return total;
}

const ZONED =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;
const ZONELESS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * An ISO 8601 time with an explicit zone (Z, ±hh:mm or ±hhmm), e.g. 2026-11-23T10:15:00+01:00. A
 * zoneless time is refused, not guessed, and so is a time that does not exist (2026-02-30, 25:00):
 * `new Date` would silently roll it over into the next month or day.
 */
export function parseDatetime(s: string, flag: string): Date {
  const m = ZONED.exec(s);
  if (!m) {
    const zoneless = ZONELESS.test(s);
    throw usageError(
      'BAD_DATETIME',
      zoneless
        ? `${flag} ${s} has no time zone; say which one (append Z for UTC or an offset like +01:00)`
        : `${flag} takes an ISO 8601 time with a zone, e.g. 2026-11-23T10:15:00Z; got '${s}'`,
      `${flag} ${zoneless ? `${s}Z` : '2026-11-23T10:15:00Z'}`,
    );
  }
  const n = (i: number) => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [n(1), n(2), n(3), n(4), n(5), n(6)] as const;
  const offset = { sign: m[8] === '-' ? -1 : 1, hours: n(9), minutes: n(10) };
  const wrong = impossibility(year, month, day, hour, minute, second, offset);
  if (wrong !== undefined)
    throw usageError(
      'BAD_DATETIME',
      `${flag} ${s} is not a valid time (${wrong})`,
      `${flag} 2026-11-23T10:15:00Z`,
    );
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  at.setUTCHours(hour, minute, second, Number((m[7] ?? '').padEnd(3, '0')));
  return new Date(at.getTime() - offset.sign * (offset.hours * 60 + offset.minutes) * 60_000);
}

/** Why these fields name no real time, or undefined when they do. */
function impossibility(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  offset: { hours: number; minutes: number },
): string | undefined {
  if (month < 1 || month > 12) return `there is no month ${month}`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) return `${year}-${String(month).padStart(2, '0')} has ${days} days`;
  if (hour > 23 || minute > 59 || second > 59) return 'no such time of day';
  if (offset.hours > 23 || offset.minutes > 59) return 'no such zone offset';
  return undefined;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

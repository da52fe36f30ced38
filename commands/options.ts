import { usageError } from '../src/errors.js';
import { durationMs, parseDatetime } from '../src/time.js';

/**
 * Option parsers shared by the commands. Each throws a usage error (exit 2) that names the flag and
 * an example that works. Durations and datetimes are parsed by src/time.ts (ops and the dev stack
 * read them too).
 */

/** Commander's accumulator for a repeatable option (`--group a --group b`). */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

interface NumberRule {
  code: string;
  /** What the flag takes, for the message. */
  takes: string;
  accepts: (n: number) => boolean;
}

/** Every numeric flag: what it takes, and the code of the usage error when it gets something else. */
const NUMBER_FLAGS = {
  '--rate': { code: 'BAD_RATE', takes: 'a positive number', accepts: (n) => n > 0 },
  '--burst': { code: 'BAD_BURST', takes: 'a factor ≥ 1', accepts: (n) => n >= 1 },
  '--sample': { code: 'BAD_SAMPLE', takes: 'seconds ≥ 0', accepts: (n) => n >= 0 },
  '--watch': { code: 'BAD_INTERVAL', takes: 'a number of seconds > 0', accepts: (n) => n > 0 },
  '--refresh': { code: 'BAD_REFRESH', takes: 'seconds ≥ 0.5', accepts: (n) => n >= 0.5 },
  '--interval': { code: 'BAD_INTERVAL', takes: 'seconds ≥ 1', accepts: (n) => n >= 1 },
} as const satisfies Record<string, NumberRule>;

/** A numeric flag's value (undefined when the flag was not given). */
export function parseNumber(v: string, flag: keyof typeof NUMBER_FLAGS, hint: string): number;
export function parseNumber(
  v: string | undefined,
  flag: keyof typeof NUMBER_FLAGS,
  hint: string,
): number | undefined;
export function parseNumber(
  v: string | undefined,
  flag: keyof typeof NUMBER_FLAGS,
  hint: string,
): number | undefined {
  if (v === undefined) return undefined;
  const rule: NumberRule = NUMBER_FLAGS[flag];
  const n = Number(v);
  if (!Number.isFinite(n) || !rule.accepts(n))
    throw usageError(rule.code, `${flag} takes ${rule.takes}, got '${v}'`, hint);
  return n;
}

/** `--brokers`: the local stack runs one Kafka broker or three. */
export function parseBrokers(v: string, hint: string, flag = '--brokers'): 1 | 3 {
  const n = Number(v);
  if (n !== 1 && n !== 3) throw usageError('BAD_BROKERS', `${flag} takes 1 or 3, got '${v}'`, hint);
  return n;
}

/** `--watch [seconds]`: the refresh interval, 5 s when the flag has no value. */
export function parseWatchSeconds(v: string | true, hint: string): number {
  return v === true ? 5 : parseNumber(v, '--watch', hint);
}

/** A time flag (`--from-time`): a time with a zone, or a duration ago (15m, 2h, PT1H). */
export function parseTimeOrAgo(v: string, flag: string, now = Date.now()): Date {
  const ago = durationMs(v);
  return ago === undefined ? parseDatetime(v, flag) : new Date(now - ago);
}

/** An end flag (`--until`): an offset (digits) or a time as parseTimeOrAgo reads it. */
export function parseOffsetOrTime(v: string, flag: string): { offset: number } | { time: Date } {
  return /^\d+$/.test(v) ? { offset: Number(v) } : { time: parseTimeOrAgo(v, flag) };
}

/** A non-negative integer flag (`--last`, `--limit`, `--from-offset`). */
export function parseCount(v: string, flag: string, hint?: string): number {
  if (!/^\d+$/.test(v))
    throw usageError('BAD_NUMBER', `${flag} takes a non-negative integer, got '${v}'`, hint);
  return Number(v);
}

import { isAbsolute, dirname, resolve } from 'node:path';
import { ExitCode, OrderbusError, unknownNameError } from './errors.js';
import { MASK, isSecretKey, redact } from './redact.js';

/**
 * Validation of single configuration values. Every parser takes the dotted key, the raw value and
 * where it came from (a file path, `$ENV_VAR`, `flag`), and throws CONFIG_INVALID naming all
 * three — never the value of a secret.
 */
export type Parser<T = unknown> = (key: string, v: unknown, src: string) => T;

export function configError(key: string, expected: string, got: unknown, source: string): OrderbusError {
  const last = key.split('.').pop() ?? key;
  const shown = isSecretKey(last) ? MASK : JSON.stringify(redact(got));
  return new OrderbusError(
    'CONFIG_INVALID',
    `config ${key} from ${source}: expected ${expected}, got ${shown}`,
    {
      hint: 'orderbus config (prints the effective configuration and where each value came from)',
      exitCode: ExitCode.usage,
      subject: key,
    },
  );
}

/** An unknown key or variable: a usage error (exit 2) with a did-you-mean, naming where it came from. */
export function unknownKeyError(
  kind: string,
  name: string,
  known: readonly string[],
  source: string,
  hint = 'orderbus config (lists every key and its environment variable)',
) {
  const e = unknownNameError(kind, name, known, hint);
  return new OrderbusError(e.code, `${e.message} (from ${source})`, {
    hint: e.hint,
    exitCode: ExitCode.usage,
    subject: name,
    details: { ...e.details, source },
  });
}

/** Throws on any key of `o` outside `allowed` (objects whose fields parsers read one by one). */
export function onlyKeys(
  key: string,
  o: Record<string, unknown>,
  allowed: readonly string[],
  src: string,
): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw unknownKeyError(
        'config key',
        `${key}.${k}`,
        allowed.map((a) => `${key}.${a}`),
        src,
      );
  }
}

/** The config file a source names: `FILE` or `context NAME in FILE`; undefined for env, flags. */
export function sourceFile(src: string): string | undefined {
  const file = src.replace(/^context .+? in /, '');
  return isAbsolute(file) ? file : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const string: Parser<string> = (key, v, src) => {
  if (typeof v !== 'string' || v.length === 0) throw configError(key, 'a non-empty string', v, src);
  return v;
};

const int =
  (min: number, max: number): Parser<number> =>
  (key, v, src) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw configError(key, `an integer from ${min} to ${max}`, v, src);
    }
    return n;
  };

const bool: Parser<boolean> = (key, v, src) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw configError(key, 'true or false', v, src);
};

export const parsers = {
  string,
  int,
  bool,
  /** An empty string is a value (no prefix). */
  optionalString: ((k, v, src) => (v === '' ? '' : string(k, v, src))) as Parser<string>,
  /** A file path; relative paths in a config file are relative to that file. */
  path: ((key, v, src) => {
    const p = string(key, v, src);
    const file = sourceFile(src);
    return file !== undefined && !isAbsolute(p) ? resolve(dirname(file), p) : p;
  }) as Parser<string>,
  url:
    (protocols: string[]): Parser<string> =>
    (key, v, src) => {
      if (typeof v !== 'string') throw configError(key, `a URL (${protocols.join('|')})`, v, src);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw configError(key, `a URL (${protocols.join('|')}://host:port)`, v, src);
      }
      if (!protocols.includes(u.protocol.replace(/:$/, '')))
        throw configError(key, `a URL with scheme ${protocols.join(' or ')}`, v, src);
      return v;
    },
  brokers: ((key, v, src) => {
    const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
    if (!Array.isArray(list) || list.length === 0) throw configError(key, 'host:port[,host:port…]', v, src);
    for (const b of list) {
      if (typeof b !== 'string' || !/^[\w.-]+:\d{1,5}$/.test(b))
        throw configError(key, 'host:port[,host:port…]', v, src);
    }
    return list as string[];
  }) as Parser<string[]>,
  intList: ((key, v, src) => {
    const list = typeof v === 'string' ? v.split(',').map((s) => Number(s.trim())) : v;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    ) {
      throw configError(key, 'a comma-separated list of non-negative integers', v, src);
    }
    return list as number[];
  }) as Parser<number[]>,
  /** A command and its arguments, run without a shell: ["gcloud", "auth", "print-access-token"]. */
  command: ((key, v, src) => {
    const list = typeof v === 'string' ? v.split(' ').filter(Boolean) : v;
    if (!Array.isArray(list) || list.length === 0 || list.some((a) => typeof a !== 'string'))
      throw configError(key, 'a command as an array of strings', v, src);
    return list as string[];
  }) as Parser<string[]>,
};

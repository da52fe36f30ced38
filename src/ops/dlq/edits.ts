import { readFileSync } from 'node:fs';
import { usageError } from '../../errors.js';

/**
 * Payload edits for `dlq redrive` (--fix-url, --set, --patch), the filter language of
 * `dlq show|redrive --filter`, and the line diff shown in dry runs. Pure functions; every parse
 * error is a usage error raised before anything is touched.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface PayloadEdits {
  fixUrl?: { from: string; to: string };
  set?: { path: string[]; value: Json }[];
  patch?: Json;
}

export function parseFixUrl(spec: string): { from: string; to: string } {
  const i = spec.indexOf('=');
  const from = i > 0 ? spec.slice(0, i) : '';
  const to = i > 0 ? spec.slice(i + 1) : '';
  const isUrl = (s: string) => /^https?:\/\/[^\s]+$/.test(s);
  if (!isUrl(from) || !isUrl(to))
    throw usageError(
      'BAD_FIX_URL',
      `--fix-url takes OLD=NEW with two http(s) URL prefixes, got '${spec}'`,
      'orderbus dlq redrive webhook.tasks.dlq --fix-url http://old.example/hooks=http://new.example/hooks',
    );
  return { from, to };
}

export function parsePath(path: string): string[] {
  const parts = path.replace(/^\$\.?/, '').split('.');
  if (path.length === 0 || parts.some((p) => p.length === 0))
    throw usageError(
      'BAD_PATH',
      `'${path}' is not a path (dot-separated keys, e.g. payload.url or data.items.0.sku)`,
      'orderbus dlq show DLQ --json (shows the payload fields)',
    );
  return parts;
}

export function parseSet(spec: string): { path: string[]; value: Json } {
  const i = spec.indexOf('=');
  if (i <= 0)
    throw usageError(
      'BAD_SET',
      `--set takes PATH=VALUE, got '${spec}'`,
      'orderbus dlq redrive DLQ --set url=http://127.0.0.1:8094/v2/hooks (VALUE is JSON, or a string)',
    );
  const raw = spec.slice(i + 1);
  let value: Json;
  try {
    value = JSON.parse(raw) as Json;
  } catch {
    value = raw;
  }
  return { path: parsePath(spec.slice(0, i)), value };
}

export function readPatch(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usageError('BAD_PATCH', `cannot read patch file ${file}: ${(e as Error).message}`, 'ls ' + file);
  }
  try {
    const p = JSON.parse(text) as Json;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Error('not an object');
    return p;
  } catch (e) {
    throw usageError(
      'BAD_PATCH',
      `${file} is not a JSON merge patch (RFC 7396: a JSON object): ${(e as Error).message}`,
      'echo \'{"url":"http://new.example/hooks"}\' > fix.json && orderbus dlq redrive DLQ --patch fix.json',
    );
  }
}

function clone<T extends Json>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: { [k: string]: Json } =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

export function setPath(target: Json, path: string[], value: Json): Json {
  const root = clone(target);
  if (path.length === 0) return value;
  let cur: Json = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string;
    const container = cur as { [k: string]: Json };
    if (typeof container !== 'object' || container === null) return root;
    if (typeof container[k] !== 'object' || container[k] === null) container[k] = {};
    cur = container[k];
  }
  (cur as { [k: string]: Json })[path[path.length - 1] as string] = value;
  return root;
}

export function getPath(target: unknown, path: string[]): unknown {
  let cur = target;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Rewrites every string value that starts with `from` (a moved endpoint) to start with `to`. */
export function fixUrls(v: Json, from: string, to: string): Json {
  if (typeof v === 'string') return v.startsWith(from) ? to + v.slice(from.length) : v;
  if (Array.isArray(v)) return v.map((x) => fixUrls(x, from, to));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fixUrls(x, from, to)]));
  return v;
}

export function applyEdits(payload: Json, edits: PayloadEdits): Json {
  let out = payload;
  if (edits.fixUrl) out = fixUrls(out, edits.fixUrl.from, edits.fixUrl.to);
  for (const s of edits.set ?? []) out = setPath(out, s.path, s.value);
  if (edits.patch !== undefined) out = mergePatch(out, edits.patch);
  return out;
}

export const hasEdits = (e: PayloadEdits) =>
  e.fixUrl !== undefined || (e.set?.length ?? 0) > 0 || e.patch !== undefined;

/** A line diff of two JSON values, pretty-printed ('-' old, '+' new), only the changed lines. */
export function jsonDiff(before: Json, after: Json): string[] {
  const a = JSON.stringify(before, null, 2).split('\n');
  const b = JSON.stringify(after, null, 2).split('\n');
  // LCS over lines; payloads are small.
  const m = a.length;
  const n = b.length;
  const dp: number[][] = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = m - 1; i >= 0; i--)
    for (let j = n - 1; j >= 0; j--)
      (dp[i] as number[])[j] =
        a[i] === b[j]
          ? ((dp[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((dp[i + 1] as number[])[j] as number, (dp[i] as number[])[j + 1] as number);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < m && j < n) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (((dp[i + 1] as number[])[j] as number) >= ((dp[i] as number[])[j + 1] as number))
      out.push(`- ${a[i++] as string}`);
    else out.push(`+ ${b[j++] as string}`);
  }
  while (i < m) out.push(`- ${a[i++] as string}`);
  while (j < n) out.push(`+ ${b[j++] as string}`);
  return out;
}

/**
 * The filter language: conditions joined by `&&` (or ` and `), each `PATH OP VALUE` with OP one
 * of `=`, `!=`, `~` (regular expression), `>`, `<`. PATH names a field of the message view
 * (errorClass, statusCode, orderId, attempts, destination, headers.NAME, payload.a.b).
 * Example: `errorClass=HttpGone && payload.url~^http://127.0.0.1:8094/hooks/v1`.
 */
export type Predicate = (view: Record<string, unknown>) => boolean;

export function parseFilter(expr: string | undefined): Predicate {
  if (expr === undefined || expr.trim() === '') return () => true;
  const conds = expr.split(/\s*&&\s*|\s+and\s+/).map((c) => {
    const m = /^\s*([\w.$-]+)\s*(!=|=|~|>|<)\s*(.*?)\s*$/.exec(c);
    if (!m)
      throw usageError(
        'BAD_FILTER',
        `cannot parse filter condition '${c}' (PATH OP VALUE, OP one of = != ~ > <)`,
        "orderbus dlq show DLQ --filter 'errorClass=HttpGone && payload.url~^http://old'",
      );
    const [, path, op, raw] = m as unknown as [string, string, string, string];
    const value = raw.replace(/^(['"])(.*)\1$/, '$2');
    let re: RegExp | undefined;
    if (op === '~') {
      try {
        re = new RegExp(value);
      } catch (e) {
        throw usageError('BAD_FILTER', `bad regular expression in '${c}': ${(e as Error).message}`);
      }
    }
    const keys = parsePath(path);
    return (view: Record<string, unknown>) => {
      const v = getPath(view, keys);
      const s =
        v === undefined || v === null
          ? ''
          : typeof v === 'string'
            ? v
            : typeof v === 'number' || typeof v === 'boolean'
              ? String(v)
              : JSON.stringify(v);
      switch (op) {
        case '=':
          return s === value;
        case '!=':
          return s !== value;
        case '~':
          return (re as RegExp).test(s);
        case '>':
          return Number(s) > Number(value);
        default:
          return Number(s) < Number(value);
      }
    };
  });
  return (view) => conds.every((c) => c(view));
}

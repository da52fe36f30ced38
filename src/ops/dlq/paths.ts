import { usageError } from '../../errors.js';
import type { Json } from './json.js';

/**
 * Dotted paths into a payload or a message view (`payload.url`, `data.items.0.sku`), for `--set`
 * and `--filter`. Segments that reach an object's prototype (`__proto__`, `constructor`,
 * `prototype`) are refused: `--set __proto__.x=1` would otherwise write to `Object.prototype`.
 */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export const isForbiddenKey = (k: string): boolean => FORBIDDEN.has(k);

export function parsePath(path: string): string[] {
  const parts = path.replace(/^\$\.?/, '').split('.');
  if (path.length === 0 || parts.some((p) => p.length === 0))
    throw usageError(
      'BAD_PATH',
      `'${path}' is not a path (dot-separated keys, e.g. payload.url or data.items.0.sku)`,
      'orderbus dlq show DLQ --json (shows the payload fields)',
    );
  const forbidden = parts.find(isForbiddenKey);
  if (forbidden !== undefined)
    throw usageError(
      'BAD_PATH',
      `'${path}' names '${forbidden}', which is not a payload field (__proto__, constructor and prototype are refused)`,
      'orderbus dlq show DLQ --json (shows the payload fields)',
    );
  return parts;
}

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** An array index: digits only, no sign or leading zero. */
const indexOf = (k: string): number | null => (/^(0|[1-9]\d*)$/.test(k) ? Number(k) : null);

/** The value at `path`, reading own properties only (array segments as indices); undefined if absent. */
export function getPath(target: unknown, path: string[]): unknown {
  let cur = target;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    if (Array.isArray(cur)) {
      const i = indexOf(k);
      cur = i === null ? undefined : cur[i];
    } else cur = own(cur, k) ? (cur as Record<string, unknown>)[k] : undefined;
  }
  return cur;
}

/**
 * A copy of `target` with `value` at `path`; missing objects on the way are created. In an
 * array a segment is an index: at most one past the end (which appends); anything else, or a
 * path through a string or number, leaves the payload unchanged (the dry run shows no diff).
 */
export function setPath(target: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const root = structuredClone(target);
  let cur: Json = root;
  for (const [n, k] of path.entries()) {
    const last = n === path.length - 1;
    if (Array.isArray(cur)) {
      const i = indexOf(k);
      if (i === null || i > cur.length) return target;
      if (last) cur[i] = value;
      else cur = cur[i] = isContainer(cur[i]) ? (cur[i] as Json) : {};
    } else if (typeof cur === 'object' && cur !== null) {
      const next: Json | undefined = own(cur, k) ? cur[k] : undefined;
      if (last) defineOwn(cur, k, value);
      else cur = defineOwn(cur, k, isContainer(next) ? (next as Json) : {});
    } else return target;
  }
  return root;
}

const isContainer = (v: Json | undefined): boolean => typeof v === 'object' && v !== null;

/** Sets an own, enumerable property (never a setter on the prototype chain); returns the value. */
function defineOwn(o: { [k: string]: Json }, k: string, v: Json): Json {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return v;
}

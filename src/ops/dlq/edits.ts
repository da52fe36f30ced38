import { readFileSync } from 'node:fs';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { usageError } from '../../errors.js';
import type { Json } from './json.js';
import { isForbiddenKey, parsePath, setPath } from './paths.js';

export type { Json } from './json.js';

export { getPath, parsePath, setPath } from './paths.js';
export { parseFilter, type Predicate } from './filter.js';

/**
 * Payload edits for `dlq redrive` (--fix-url, --set, --patch) and the line diff shown in dry
 * runs; the filter language (filter.ts) and paths (paths.ts) are re-exported from here. Pure
 * functions; every parse error is a usage error raised before anything is touched.
 */

export interface PayloadEdits {
  fixUrl?: { from: string; to: string };
  set?: { path: string[]; value: Json }[];
  patch?: PayloadPatch;
}

/** `--patch`: an RFC 6902 JSON Patch or an RFC 7396 merge patch. */
export type PayloadPatch = { jsonPatch: Operation[] } | { mergePatch: Json };

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

const PATCH_HINT =
  'echo \'[{"op":"replace","path":"/url","value":"http://new.example/hooks"}]\' > fix.json && orderbus dlq redrive DLQ --patch fix.json';

/** A key anywhere in a merge patch that would reach a prototype, or null. */
function forbiddenKeyIn(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  for (const [k, x] of Object.entries(v)) {
    if (isForbiddenKey(k)) return k;
    const inner = forbiddenKeyIn(x);
    if (inner !== null) return inner;
  }
  return null;
}

/**
 * A patch file: a JSON array is an RFC 6902 JSON Patch (checked here, op by op), a JSON object
 * an RFC 7396 merge patch. Neither may reach a prototype (`__proto__`, `constructor`, `prototype`).
 */
export function readPatch(file: string): PayloadPatch {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usageError('BAD_PATCH', `cannot read patch file ${file}: ${(e as Error).message}`, 'ls ' + file);
  }
  const bad = (why: string) =>
    usageError(
      'BAD_PATCH',
      `${file} is neither a JSON Patch (RFC 6902: an array of operations) nor a JSON merge patch (RFC 7396: an object): ${why}`,
      PATCH_HINT,
    );
  let p: Json;
  try {
    p = JSON.parse(text) as Json;
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (Array.isArray(p)) {
    const ops = p as unknown as Operation[];
    const invalid = jsonPatch.validate(ops);
    if (invalid)
      throw bad(`operation ${invalid.index ?? '?'}: ${invalid.message.split('\n')[0] ?? invalid.name}`);
    const reaching = ops
      .flatMap((o) => [o.path, 'from' in o ? o.from : ''])
      .find((ptr) => ptr.split('/').some((seg) => isForbiddenKey(seg)));
    if (reaching !== undefined) throw bad(`'${reaching}' reaches a prototype`);
    return { jsonPatch: ops };
  }
  if (typeof p !== 'object' || p === null) throw bad('not an array or object');
  const key = forbiddenKeyIn(p);
  if (key !== null) throw bad(`'${key}' reaches a prototype`);
  return { mergePatch: p };
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: { [k: string]: Json } =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** RFC 6902 through fast-json-patch (on a copy; prototype changes banned); a failing op is a PatchFailed. */
export function applyJsonPatch(target: Json, ops: Operation[]): Json {
  try {
    return jsonPatch.applyPatch(structuredClone(target), ops, true, true, true).newDocument;
  } catch (e) {
    const op = e instanceof jsonPatch.JsonPatchError ? (e.operation as Operation | undefined) : undefined;
    const what = op ? `${op.op} ${op.path}` : 'patch';
    throw new PatchFailed(`JSON Patch ${what} does not apply: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
}

/** A JSON Patch that does not apply to one payload (a failed `test`, a missing path): that letter is invalid. */
export class PatchFailed extends Error {}

/** Rewrites every string value that starts with `from` (a moved endpoint) to start with `to`. */
export function fixUrls(v: Json, from: string, to: string): Json {
  if (typeof v === 'string') return v.startsWith(from) ? to + v.slice(from.length) : v;
  if (Array.isArray(v)) return v.map((x) => fixUrls(x, from, to));
  if (v && typeof v === 'object') {
    // A plain loop: this runs for every letter of a redrive, and entries/fromEntries allocate twice.
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v)) {
      const x = fixUrls(v[k] as Json, from, to);
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out;
  }
  return v;
}

/** The edits in order: --fix-url, each --set, then --patch. Throws PatchFailed when a JSON Patch does not apply. */
export function applyEdits(payload: Json, edits: PayloadEdits): Json {
  let out = payload;
  if (edits.fixUrl) out = fixUrls(out, edits.fixUrl.from, edits.fixUrl.to);
  for (const s of edits.set ?? []) out = setPath(out, s.path, s.value);
  const p = edits.patch;
  if (p && 'jsonPatch' in p) out = applyJsonPatch(out, p.jsonPatch);
  else if (p) out = mergePatch(out, p.mergePatch);
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

/** applyEdits for one letter of many: a patch that does not apply leaves the payload as it was, with the reason in `problems`. */
export function applyEditsTo(payload: Json, edits: PayloadEdits, problems: string[]): Json {
  try {
    return applyEdits(payload, edits);
  } catch (e) {
    if (!(e instanceof PatchFailed)) throw e;
    problems.push(e.message);
    return payload;
  }
}

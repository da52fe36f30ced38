import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OrderbusError } from '../../src/errors.js';
import { decide } from '../../src/ops/dlq/plan.js';
import { applyEdits, parseSet, readPatch, type Json } from '../../src/ops/dlq/edits.js';
import type { DlqMessage } from '../../src/ops/dlq/types.js';

// Edits that cannot hurt: --set never reaches a prototype and indexes arrays; --patch takes RFC
// 6902 JSON Patch (through fast-json-patch) as well as RFC 7396 merge patch.
const patchFile = (content: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'patch-')), 'p.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};

const usage = (f: () => unknown, code: string): OrderbusError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OrderbusError);
    expect((e as OrderbusError).code).toBe(code);
    expect((e as OrderbusError).exitCode).toBe(2);
    return e as OrderbusError;
  }
  throw new Error('expected a usage error');
};

afterEach(() => {
  // Nothing may have reached Object.prototype, whatever a test did.
  expect(({} as Record<string, unknown>).x).toBeUndefined();
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe('--set', () => {
  it.each(['__proto__.x=1', 'constructor.prototype.x=1', 'payload.__proto__.x=1', 'a.prototype=1'])(
    'refuses %s (exit 2) and Object.prototype stays untouched',
    (spec) => {
      const e = usage(() => parseSet(spec), 'BAD_PATH');
      expect(e.message).toMatch(/__proto__|constructor|prototype/);
    },
  );

  it('treats numeric segments of arrays as indices (one past the end appends), other segments leave arrays alone', () => {
    const p: Json = { items: [{ sku: 'A' }, { sku: 'B' }], tags: ['x'] };
    expect(applyEdits(p, { set: [parseSet('items.1.sku="C"')] })).toEqual({
      items: [{ sku: 'A' }, { sku: 'C' }],
      tags: ['x'],
    });
    expect(applyEdits(p, { set: [parseSet('tags.1=y')] })).toEqual({ ...p, tags: ['x', 'y'] });
    expect(applyEdits(p, { set: [parseSet('items.2.sku=D')] })).toEqual({
      ...p,
      items: [{ sku: 'A' }, { sku: 'B' }, { sku: 'D' }],
    });
    for (const spec of ['tags.length=0', 'tags.5=z', 'tags.01=z', 'tags.-1=z'])
      expect(applyEdits(p, { set: [parseSet(spec)] })).toEqual(p);
    expect(p).toEqual({ items: [{ sku: 'A' }, { sku: 'B' }], tags: ['x'] }); // the original is never changed
  });

  it('a value that is JSON with a __proto__ key stays a plain field', () => {
    const out = applyEdits({}, { set: [parseSet('a={"__proto__":{"polluted":1}}')] });
    expect(JSON.stringify(out)).toBe('{"a":{"__proto__":{"polluted":1}}}');
  });
});

describe('--patch', () => {
  it('takes an RFC 6902 JSON Patch (an array of operations)', () => {
    const patch = readPatch(
      patchFile([
        { op: 'test', path: '/url', value: 'http://p/v1/o' },
        { op: 'replace', path: '/url', value: 'http://p/v2/o' },
        { op: 'add', path: '/items/-', value: 'c' },
        { op: 'remove', path: '/items/0' },
        { op: 'move', from: '/old', path: '/new' },
      ]),
    );
    const before: Json = { url: 'http://p/v1/o', items: ['a', 'b'], old: 1 };
    expect(applyEdits(before, { patch })).toEqual({ url: 'http://p/v2/o', items: ['b', 'c'], new: 1 });
    expect(before).toEqual({ url: 'http://p/v1/o', items: ['a', 'b'], old: 1 });
  });

  it('still takes an RFC 7396 merge patch (an object)', () => {
    const patch = readPatch(patchFile({ a: null, b: { c: 9 } }));
    expect(applyEdits({ a: 1, b: { c: 2, d: 3 } }, { patch })).toEqual({ b: { c: 9, d: 3 } });
  });

  it('a JSON Patch that does not apply to a letter makes that letter invalid, with the reason; the others go on', () => {
    const patch = readPatch(patchFile([{ op: 'test', path: '/url', value: 'http://p/v1/o' }]));
    const letter = (url: string) =>
      ({
        id: url,
        payload: { url },
        raw: JSON.stringify({ url }),
        decodeError: null,
      }) as unknown as DlqMessage;
    const ok = decide(letter('http://p/v1/o'), { patch }, () => []);
    const failed = decide(letter('http://p/v9/o'), { patch }, () => []);
    expect(ok.item).toMatchObject({ valid: true });
    expect(failed.item).toMatchObject({ valid: false, outcome: 'invalid', changed: false });
    expect(failed.item.problems[0]).toMatch(/JSON Patch test \/url does not apply/);
  });

  it.each([
    ['an operation without a path', [{ op: 'add', value: 1 }]],
    ['an unknown operation', [{ op: 'frobnicate', path: '/a' }]],
    ['a path into __proto__', [{ op: 'add', path: '/__proto__/polluted', value: 1 }]],
    ['a move from constructor', [{ op: 'move', from: '/constructor/prototype', path: '/a' }]],
    ['a merge patch with __proto__', '{"a":{"__proto__":{"polluted":1}}}'],
    ['a number', '42'],
    ['not JSON', '{'],
  ])('refuses %s before anything is touched (exit 2)', (_, content) => {
    usage(() => readPatch(patchFile(content)), 'BAD_PATCH');
  });
});

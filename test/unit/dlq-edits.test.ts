import { describe, expect, it } from 'vitest';
import {
  applyEdits,
  fixUrls,
  jsonDiff,
  mergePatch,
  parseFilter,
  parseFixUrl,
  parseSet,
} from '../../src/ops/dlq/edits.js';
import { validateTask } from '../../src/tasks/task-schema.js';

describe('payload edits', () => {
  it('merge patch follows RFC 7396 (null deletes, objects merge, arrays replace)', () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: null, b: { c: 9 }, e: [2, 3] })).toEqual({
      b: { c: 9, d: 3 },
      e: [2, 3],
    });
  });

  it('--fix-url rewrites only values that start with the old prefix, anywhere in the payload', () => {
    const from = 'http://p/v1';
    expect(
      fixUrls(
        { url: 'http://p/v1/orders', other: 'http://q/v1/x', nested: ['http://p/v1'] },
        from,
        'http://p/v2',
      ),
    ).toEqual({
      url: 'http://p/v2/orders',
      other: 'http://q/v1/x',
      nested: ['http://p/v2'],
    });
    expect(() => parseFixUrl('http://a')).toThrow(/OLD=NEW/);
  });

  it('--set parses JSON values, falls back to strings, and builds missing objects', () => {
    const s = parseSet('data.items.0={"sku":"X"}');
    expect(applyEdits({ data: {} }, { set: [s, parseSet('note=plain text')] })).toEqual({
      data: { items: { 0: { sku: 'X' } } },
      note: 'plain text',
    });
    expect(() => parseSet('nothing')).toThrow(/PATH=VALUE/);
  });

  it('diffs only the changed lines', () => {
    expect(jsonDiff({ a: 1, b: 2 }, { a: 1, b: 3 })).toEqual(['-   "b": 2', '+   "b": 3']);
  });

  it('filters with = != ~ > < joined by &&, and rejects what it cannot parse', () => {
    const f = parseFilter('errorClass=HttpGone && payload.url~^http://p/v1 && attempts>1');
    expect(f({ errorClass: 'HttpGone', payload: { url: 'http://p/v1/o' }, attempts: 2 })).toBe(true);
    expect(f({ errorClass: 'HttpGone', payload: { url: 'http://p/v2/o' }, attempts: 2 })).toBe(false);
    expect(parseFilter('statusCode!=410')({ statusCode: 503 })).toBe(true);
    expect(() => parseFilter('errorClass')).toThrow(/cannot parse/);
    expect(() => parseFilter('a~(')).toThrow(/regular expression/);
  });

  it('validates task payloads against their schema', () => {
    expect(
      validateTask({ kind: 'webhook', taskId: 't', orderId: 'o', url: 'http://x/y', payload: {} }),
    ).toEqual([]);
    expect(
      validateTask({ kind: 'webhook', taskId: 't', orderId: 'o', url: 'not a url', payload: {} })[0],
    ).toContain('/url');
    expect(validateTask({ kind: 'fax' })[0]).toContain('unknown task kind');
  });
});

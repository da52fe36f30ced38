import { describe, expect, it } from 'vitest';
import {
  applyEdits,
  fixUrls,
  jsonDiff,
  mergePatch,
  parseFilter,
  parseFixUrl,
  parseSet,
} from '../../src/ops/edits.js';
import { parseDuration, parseZonedDatetime } from '../../src/ops/offsets.js';
import { byteChunks } from '../../src/ops/replay.js';
import { decodeHandled, encodeHandled } from '../../src/ops/dlq.js';
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

describe('offsets reset parsing', () => {
  it('refuses zoneless datetimes and accepts Z or an offset', () => {
    expect(() => parseZonedDatetime('2026-11-23T10:00:00')).toThrow(/no time zone/);
    expect(parseZonedDatetime('2026-11-23T10:00:00+01:00').toISOString()).toBe('2026-11-23T09:00:00.000Z');
  });

  it('parses ISO 8601 durations like Kafka --by-duration', () => {
    expect(parseDuration('P1DT2H3M')).toBe(((24 + 2) * 60 + 3) * 60000);
    expect(parseDuration('PT30M')).toBe(30 * 60000);
    expect(() => parseDuration('30m')).toThrow(/ISO 8601 duration/);
    expect(() => parseDuration('PT')).toThrow();
  });
});

describe('replay produce chunks', () => {
  it('cuts sends below the byte limit, keeps order, and never leaves a chunk empty', () => {
    const m = (i: number, size: number) => ({
      key: Buffer.from(String(i)),
      value: Buffer.alloc(size),
      timestamp: 0,
      headers: [],
    });
    const msgs = [m(0, 400), m(1, 400), m(2, 400), m(3, 5000), m(4, 10)];
    const chunks = byteChunks(msgs, 1000);
    expect(chunks.map((c) => c.map((x) => String(x.key)))).toEqual([['0', '1'], ['2'], ['3'], ['4']]);
    expect(chunks.flat()).toEqual(msgs);
    expect(byteChunks([], 1000)).toEqual([]);
  });
});

describe('Kafka DLQ cursor metadata', () => {
  it('round-trips the redriven offsets past the cursor as ranges, within the broker metadata limit', () => {
    const set = new Set([105, 106, 107, 110, 200, 201]);
    const text = encodeHandled(set);
    expect(text).toBe('orderbus-dlq/1 handled=105-107,110,200-201');
    expect(decodeHandled(text)).toEqual(set);
    expect(encodeHandled([])).toBeNull();
    expect(decodeHandled(null).size).toBe(0);
    expect(decodeHandled('written by another tool').size).toBe(0);
    const many = encodeHandled(Array.from({ length: 5000 }, (_, i) => i * 2)) ?? '';
    expect(many.length).toBeLessThanOrEqual(3800);
  });
});

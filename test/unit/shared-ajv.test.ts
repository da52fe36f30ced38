import { describe, expect, it } from 'vitest';
import { SharedAjv } from '../../src/adapters/shared-ajv.js';

const v1 = {
  $id: 'https://example.com/order.json',
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' } },
};
// Version 2 of the same subject, same $id (what most writers do), other content.
const v2 = { ...v1, required: ['id', 'total'], properties: { ...v1.properties, total: { type: 'number' } } };
const money = { $id: 'https://example.com/money.json', type: 'object', required: ['cents'] };
const withRef = (id: string) => ({
  $id: id,
  type: 'object',
  properties: { price: { $ref: 'https://example.com/money.json' } },
});

describe('SharedAjv (one Ajv for the JSON schemas a registry client compiles)', () => {
  it('compiles schemas of different ids once each in the shared Ajv', () => {
    const ajv = new SharedAjv();
    const a = ajv.compile(v1);
    const b = ajv.compile({ type: 'object', required: ['x'] });
    expect(a({ id: 'o1' })).toBe(true);
    expect(b({})).toBe(false);
    expect(ajv.isolated).toBe(0);
  });

  it('gives back the compiled schema for the same $id and content (no "already exists")', () => {
    const ajv = new SharedAjv();
    const a = ajv.compile(v1);
    expect(ajv.compile(structuredClone(v1))).toBe(a);
    expect(ajv.isolated).toBe(0);
  });

  it('compiles a later version that reuses the $id with other content on its own, each by its rules', () => {
    const ajv = new SharedAjv();
    const a = ajv.compile(v1);
    const b = ajv.compile(v2);
    expect(ajv.isolated).toBe(1);
    expect(a({ id: 'o1' })).toBe(true);
    expect(b({ id: 'o1' })).toBe(false);
    expect(b({ id: 'o1', total: 3 })).toBe(true);
  });

  it('adds a reference once, and isolates a schema whose reference changed under the same $id', () => {
    const ajv = new SharedAjv();
    ajv.addSchema(money, money.$id);
    const a = ajv.compile(withRef('https://example.com/a.json'));
    ajv.addSchema(structuredClone(money), money.$id);
    const b = ajv.compile(withRef('https://example.com/b.json'));
    expect(ajv.isolated).toBe(0);
    expect(a({ price: {} })).toBe(false);
    expect(b({ price: { cents: 1 } })).toBe(true);
    const money2 = { ...money, required: ['cents', 'currency'] };
    ajv.addSchema(money2, money2.$id);
    const c = ajv.compile(withRef('https://example.com/c.json'));
    expect(ajv.isolated).toBe(1);
    expect(c({ price: { cents: 1 } })).toBe(false);
    expect(a({ price: { cents: 1 } })).toBe(true);
  });
});

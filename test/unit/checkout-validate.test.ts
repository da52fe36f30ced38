import { describe, expect, it } from 'vitest';
import { sampleOrder } from '../../src/devstack/load/load.js';
import { MAX_DEPTH, isEmail, validateCheckout } from '../../src/pipeline/checkout-validate.js';

const fieldsOf = (r: ReturnType<typeof validateCheckout>) => (r.ok ? [] : r.errors.map((e) => e.field));

describe('checkout validation', () => {
  it('answers a ReDoS body ("a@" + 64,000 dots + "@") in under 50 ms', () => {
    const body = { ...sampleOrder('normal', 1), email: `a@${'.'.repeat(64_000)}@` };
    const started = performance.now();
    const r = validateCheckout(body);
    const ms = performance.now() - started;
    expect(fieldsOf(r)).toEqual(['email']);
    expect(ms).toBeLessThan(50);
  });

  it.each([
    ['customer1@example.test', true],
    ['a@b.c', true],
    ['first.last+tag@sub.example.co.uk', true],
    ['a@b..c', true],
    ['a@.b.c', true],
    ['', false],
    ['a', false],
    ['@b.c', false],
    ['a@', false],
    ['a@b', false],
    ['a@.bc', false],
    ['a@bc.', false],
    ['a@b@c.d', false],
    ['a b@c.d', false],
    ['a@b.c\n', false],
    ['a@b.c\u00a0', false],
    [`${'a'.repeat(250)}@b.cd`, false],
  ])('email %j valid: %s (as the old expression, up to RFC 5321 length)', (email, ok) => {
    expect(isEmail(email)).toBe(ok);
  });

  it('refuses NUL characters and lone surrogates in any string, keys included, with the field', () => {
    const order = sampleOrder('normal', 2) as Record<string, unknown> & {
      shippingAddress: Record<string, unknown>;
      items: Record<string, unknown>[];
    };
    expect(validateCheckout(order).ok).toBe(true);
    const cases: [unknown, string][] = [
      [{ ...order, customerId: 'cust\u00001' }, 'customerId'],
      [
        { ...order, shippingAddress: { ...order.shippingAddress, city: 'Ly\ud800on' } },
        'shippingAddress.city',
      ],
      [{ ...order, shippingAddress: { ...order.shippingAddress, name: 'x\udc00' } }, 'shippingAddress.name'],
      [{ ...order, items: [{ ...order.items[0], sku: 'SKU\ud83d' }] }, 'items[0].sku'],
      [{ ...order, note: { deep: ['ok', 'bad\u0000'] } }, 'note.deep[1]'],
      [{ ...order, ['k\u0000']: 1 }, ''],
    ];
    for (const [body, field] of cases) expect(fieldsOf(validateCheckout(body))).toEqual([field]);
    // A paired surrogate (an emoji) is fine.
    expect(validateCheckout({ ...order, customerId: 'cust-\ud83d\ude00' }).ok).toBe(true);
  });

  it(`refuses bodies nested deeper than ${MAX_DEPTH} levels without overflowing the stack`, () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const started = performance.now();
    const r = validateCheckout({ ...sampleOrder('normal', 3), extra: deep });
    expect(performance.now() - started).toBeLessThan(50);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.errors[0]?.message).toMatch(/nested more than/);
  });
});

/**
 * Validates a checkout body without any external call; returns a field-by-field error list.
 * Every check is a single linear scan (no backtracking regular expression): one request must never
 * hold the event loop that every checkout shares.
 */
export interface CheckoutBody {
  customerId: string;
  email: string;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string };
  paymentMethod: { type: string; token: string };
  currency: string;
}

export interface FieldError {
  field: string;
  message: string;
}

/** Deeper bodies are refused: JSON.stringify (and PostgreSQL's jsonb) recurse per level. */
export const MAX_DEPTH = 16;
/** RFC 5321's limit on a forward path. */
const MAX_EMAIL_LENGTH = 254;
/** Text errors reported at most (a body of 30,000 bad strings gets a short answer). */
const MAX_TEXT_ERRORS = 10;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

export function validateCheckout(
  body: unknown,
): { ok: true; value: CheckoutBody } | { ok: false; errors: FieldError[] } {
  if (!isObj(body)) return { ok: false, errors: [{ field: '', message: 'the body must be a JSON object' }] };
  const errors: FieldError[] = textErrors(body);
  if (!nonEmpty(body.customerId))
    errors.push({ field: 'customerId', message: 'required, a non-empty string' });
  if (!isEmail(body.email)) errors.push({ field: 'email', message: 'required, an email address' });
  const currency = body.currency ?? 'EUR';
  if (!isCurrencyCode(currency)) errors.push({ field: 'currency', message: 'an ISO 4217 code like EUR' });
  if (!Array.isArray(body.items) || body.items.length === 0)
    errors.push({ field: 'items', message: 'required, at least one item' });
  else if (body.items.length > 100) errors.push({ field: 'items', message: 'at most 100 items' });
  else body.items.forEach((item: unknown, i) => errors.push(...itemErrors(item, `items[${i}]`)));
  const a = body.shippingAddress;
  if (!isObj(a))
    errors.push({
      field: 'shippingAddress',
      message: 'required, an object with name, line1, city, postalCode, country',
    });
  else
    for (const f of ['name', 'line1', 'city', 'postalCode', 'country'])
      if (!nonEmpty(a[f]))
        errors.push({ field: `shippingAddress.${f}`, message: 'required, a non-empty string' });
  const p = body.paymentMethod;
  if (!isObj(p)) errors.push({ field: 'paymentMethod', message: 'required, an object with type and token' });
  else {
    if (!nonEmpty(p.type)) errors.push({ field: 'paymentMethod.type', message: 'required, e.g. card' });
    if (!nonEmpty(p.token))
      errors.push({ field: 'paymentMethod.token', message: 'required, the tokenized payment method' });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { ...(body as unknown as CheckoutBody), currency: currency as string } };
}

function itemErrors(item: unknown, field: string): FieldError[] {
  if (!isObj(item)) return [{ field, message: 'an object with sku, quantity, unitPriceCents' }];
  const errors: FieldError[] = [];
  if (!nonEmpty(item.sku)) errors.push({ field: `${field}.sku`, message: 'required, a non-empty string' });
  const q = item.quantity;
  if (!Number.isInteger(q) || (q as number) < 1 || (q as number) > 1000)
    errors.push({ field: `${field}.quantity`, message: 'an integer from 1 to 1000' });
  const price = item.unitPriceCents;
  if (!Number.isInteger(price) || (price as number) < 0)
    errors.push({ field: `${field}.unitPriceCents`, message: 'a non-negative integer (cents)' });
  return errors;
}

/**
 * What `^[^@\s]+@[^@\s]+\.[^@\s]+$` accepted (one '@', no whitespace, a dot inside the domain with
 * something on each side), in one pass: that expression backtracks quadratically on "a@" + many
 * dots + "@" (64,000 dots held the event loop for seconds).
 */
export function isEmail(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_EMAIL_LENGTH) return false;
  const parts = v.split('@');
  if (parts.length !== 2) return false;
  const [local = '', domain = ''] = parts;
  if (local.length === 0 || hasWhitespace(v)) return false;
  const dot = domain.indexOf('.', 1);
  return dot > 0 && dot < domain.length - 1;
}

/** `\s` as a one-character class: a plain scan, no backtracking. */
const hasWhitespace = (s: string): boolean => /\s/.test(s);

/** Three ASCII capitals, checked by character code. */
function isCurrencyCode(v: unknown): v is string {
  if (typeof v !== 'string' || v.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = v.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

/**
 * NUL characters and lone surrogates anywhere in the body (values and keys, at any depth), and
 * bodies nested deeper than MAX_DEPTH: PostgreSQL refuses the first two in text and jsonb, so they
 * would fail at write time, and the last overflows the stack. An explicit stack, not recursion,
 * so the walk itself survives any nesting JSON.parse produced.
 */
export function textErrors(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  const bad = (field: string, message: string) => {
    if (errors.length < MAX_TEXT_ERRORS) errors.push({ field, message });
  };
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string; depth: number };
    if (typeof value === 'string') {
      if (!isCleanText(value)) bad(path, 'must not contain NUL characters or unpaired surrogates');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_DEPTH) {
      bad(path, `nested more than ${MAX_DEPTH} levels deep`);
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      const field = path ? `${path}.${k}` : k;
      if (!isCleanText(k)) bad(path, 'a key must not contain NUL characters or unpaired surrogates');
      stack.push({ value: v, path: field, depth: depth + 1 });
    }
  }
  return errors;
}

/** No U+0000 and every UTF-16 surrogate paired (high then low), in one pass. */
export function isCleanText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

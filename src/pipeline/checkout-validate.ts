/**
 * Validates a checkout body without any external call; returns a field-by-field error list.
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

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

export function validateCheckout(
  body: unknown,
): { ok: true; value: CheckoutBody } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!isObj(body)) return { ok: false, errors: [{ field: '', message: 'the body must be a JSON object' }] };
  if (!nonEmpty(body.customerId))
    errors.push({ field: 'customerId', message: 'required, a non-empty string' });
  if (typeof body.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email))
    errors.push({ field: 'email', message: 'required, an email address' });
  const currency = body.currency ?? 'EUR';
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))
    errors.push({ field: 'currency', message: 'an ISO 4217 code like EUR' });
  if (!Array.isArray(body.items) || body.items.length === 0)
    errors.push({ field: 'items', message: 'required, at least one item' });
  else if (body.items.length > 100) errors.push({ field: 'items', message: 'at most 100 items' });
  else
    body.items.forEach((item: unknown, i) => {
      if (!isObj(item))
        return errors.push({ field: `items[${i}]`, message: 'an object with sku, quantity, unitPriceCents' });
      if (!nonEmpty(item.sku))
        errors.push({ field: `items[${i}].sku`, message: 'required, a non-empty string' });
      if (
        !Number.isInteger(item.quantity) ||
        (item.quantity as number) < 1 ||
        (item.quantity as number) > 1000
      )
        errors.push({ field: `items[${i}].quantity`, message: 'an integer from 1 to 1000' });
      if (!Number.isInteger(item.unitPriceCents) || (item.unitPriceCents as number) < 0)
        errors.push({ field: `items[${i}].unitPriceCents`, message: 'a non-negative integer (cents)' });
      return undefined;
    });
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

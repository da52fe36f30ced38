import { Ajv, type ErrorObject } from 'ajv';

/** JSON schemas of the task payloads; an edited dead letter is validated against these. */
const base = {
  taskId: { type: 'string', minLength: 1 },
  orderId: { type: 'string', minLength: 1 },
};
const schemas = {
  email: {
    type: 'object',
    required: ['kind', 'taskId', 'orderId', 'template', 'to', 'data', 'causationId', 'correlationId'],
    properties: {
      ...base,
      kind: { const: 'email' },
      template: { enum: ['order-confirmation', 'shipping-notification'] },
      to: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' },
      data: { type: 'object' },
      causationId: { type: 'string' },
      correlationId: { type: 'string' },
    },
  },
  webhook: {
    type: 'object',
    required: ['kind', 'taskId', 'orderId', 'url', 'payload'],
    properties: {
      ...base,
      kind: { const: 'webhook' },
      url: { type: 'string', pattern: '^https?://[^\\s]+$' },
      payload: { type: 'object' },
    },
  },
  analytics: {
    type: 'object',
    required: ['kind', 'taskId', 'orderId', 'type', 'at'],
    properties: { ...base, kind: { const: 'analytics' }, type: { type: 'string' }, at: { type: 'string' } },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = Object.fromEntries(Object.entries(schemas).map(([k, s]) => [k, ajv.compile(s)]));

/** Problems with a task payload (empty when valid). */
export function validateTask(payload: unknown): string[] {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return ['a task is a JSON object'];
  const kind = (payload as { kind?: unknown }).kind;
  const v = typeof kind === 'string' ? validators[kind] : undefined;
  if (!v) return [`unknown task kind ${JSON.stringify(kind)} (email, webhook or analytics)`];
  if (v(payload)) return [];
  return (v.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

import type { Ajv, AnySchema, ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';

// The Ajv the registry client itself would use (its own dependency, a major behind ours), so
// that sharing one changes which schemas compile and what they accept in nothing.
const clientRequire = createRequire(
  createRequire(import.meta.url).resolve('@kafkajs/confluent-schema-registry'),
);
const ClientAjv = (clientRequire('ajv') as { default: new () => Ajv }).default;

/**
 * One Ajv for every JSON schema a registry client compiles. The registry client's default is a
 * new Ajv per schema id, each compiling the JSON Schema meta-schema again (~40 ms each here; a
 * DLQ of letters from a dozen event types paid it a dozen times before its first page).
 *
 * Schemas are kept by `$id` in one Ajv, and different registry versions of one subject often
 * reuse their `$id` with other content: a schema (or a reference) whose `$id` is already held
 * with other content is compiled in an Ajv of its own, as the client's default would. One held
 * with the same content is not compiled again.
 */
export class SharedAjv {
  private readonly shared = new ClientAjv();
  /** Content held in the shared Ajv per `$id`. */
  private readonly held = new Map<string, string>();
  /** References added since the last compile (the client adds a schema's references, then compiles it). */
  private pending: { schema: AnySchema; key: string | undefined }[] = [];
  /** Compiles that needed an Ajv of their own (tests read it). */
  isolated = 0;

  addSchema(schema: AnySchema, key?: string): Ajv {
    this.pending.push({ schema, key });
    return this.shared;
  }

  compile(schema: AnySchema): ValidateFunction {
    const refs = this.pending;
    this.pending = [];
    const id = idOf(schema);
    const text = JSON.stringify(schema);
    const clash = (key: string | undefined, content: string) =>
      key !== undefined && this.held.has(key) && this.held.get(key) !== content;
    if (clash(id, text) || refs.some((r) => clash(r.key ?? idOf(r.schema), JSON.stringify(r.schema)))) {
      this.isolated++;
      const own = new ClientAjv();
      for (const r of refs) own.addSchema(r.schema, r.key);
      return own.compile(schema);
    }
    for (const r of refs) {
      const key = r.key ?? idOf(r.schema);
      if (key !== undefined && this.held.has(key)) continue;
      this.shared.addSchema(r.schema, key);
      if (key !== undefined) this.held.set(key, JSON.stringify(r.schema));
    }
    if (id !== undefined) {
      const known = this.held.has(id) ? this.shared.getSchema(id) : undefined;
      if (known) return known;
      this.held.set(id, text);
    }
    return this.shared.compile(schema);
  }
}

function idOf(schema: AnySchema): string | undefined {
  const id = typeof schema === 'object' ? (schema as { $id?: unknown }).$id : undefined;
  return typeof id === 'string' ? id : undefined;
}

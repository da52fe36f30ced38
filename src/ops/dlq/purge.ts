import { appendAudit } from '../audit.js';
import type { OpsContext } from '../context.js';
import { locateDlq } from './discovery.js';
import type { PurgeResult } from './types.js';

/** Counts (dry run) or removes every dead letter of a DLQ, with the removed payloads' hashes in the audit. */
export async function purgeDlq(
  ctx: OpsContext,
  name: string,
  options: { execute?: boolean; command?: string } = {},
): Promise<PurgeResult> {
  const { engine } = await locateDlq(ctx, name);
  const { count, payloadHashes } = await engine.purge(ctx, name, options.execute ?? false);
  let auditRef: string | null = null;
  if (options.execute) {
    const rec = await appendAudit(ctx, {
      command: options.command ?? `dlq purge ${name}`,
      plan: { dlq: name, count },
      result: { removed: count },
      payloadHashes,
    });
    auditRef = rec.id;
  }
  return { dlq: name, kind: engine.kind, execute: options.execute ?? false, count, auditRef };
}

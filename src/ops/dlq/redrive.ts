import { appendAudit, newAuditRef } from '../audit.js';
import type { OpsContext } from '../context.js';
import { locateDlq } from './discovery.js';
import { parseFilter } from './edits.js';
import { filterView } from './message-view.js';
import type { DlqMessage, RedriveOptions, RedriveResult } from './types.js';

/** Re-publishes the selected dead letters to where they came from (a dry run unless `execute`), audited. */
export async function redriveDlq(
  ctx: OpsContext,
  name: string,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const pred = parseFilter(options.filter);
  const ids = options.ids ? new Set(options.ids) : undefined;
  const selects = (m: DlqMessage) => (!ids || ids.has(m.id)) && pred(filterView(m));
  const { engine } = await locateDlq(ctx, name);
  const auditRef = options.execute ? newAuditRef() : null;
  const { result, payloadHashes } = await engine.redrive(ctx, name, { options, selects, auditRef });
  if (options.execute) {
    result.auditRef = auditRef;
    await appendAudit(ctx, {
      id: auditRef ?? undefined,
      command: options.command ?? `dlq redrive ${name}`,
      plan: {
        selected: result.selected,
        toRedrive: result.toRedrive,
        unchanged: result.unchanged,
        invalid: result.invalid,
      },
      result: { redriven: result.redriven, failed: result.failed, remaining: result.remaining },
      payloadHashes,
    });
  }
  return result;
}

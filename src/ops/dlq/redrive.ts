import { withAudit } from '../audit.js';
import type { OpsContext } from '../context.js';
import { PlanLetters, parsePlanId, planChanged } from './confirmed-plan.js';
import { locateDlq } from './discovery.js';
import { parseFilter } from './edits.js';
import { filterView } from './message-view.js';
import { planIdOf, redriveExitCode } from './plan.js';
import type { DlqMessage, RedriveOptions, RedriveResult } from './types.js';

/**
 * Re-publishes the selected dead letters to where they came from (a dry run unless `execute`),
 * audited. With `plan`, only the letters of that plan, or nothing if the DLQ changed since it.
 */
export async function redriveDlq(
  ctx: OpsContext,
  name: string,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  // Without --filter no letter needs its filter view (a copy of every field, per letter).
  const pred = options.filter?.trim() ? parseFilter(options.filter) : undefined;
  const confirmed = options.plan !== undefined ? parsePlanId(options.plan, `dlq redrive ${name}`) : undefined;
  const ids = options.ids ? new Set(options.ids) : undefined;
  let selects = (m: DlqMessage) => (!ids || ids.has(m.id)) && (!pred || pred(filterView(m)));
  options.signal?.throwIfAborted();
  const { engine } = await locateDlq(ctx, name);
  let letters: PlanLetters | undefined;
  if (options.execute && confirmed) {
    // The plan's letters are the first `size` selected: read them again, without changing anything.
    letters = new PlanLetters();
    const limit = Math.min(options.limit ?? confirmed.size, confirmed.size);
    const check = await engine.redrive(ctx, name, {
      options: { ...options, execute: false, limit, itemsKept: 0, onProgress: undefined },
      selects: abortable(letters.collect(selects), options.signal),
      auditRef: null,
    });
    const now = planIdOf(check.result);
    if (now !== confirmed.id) throw planChanged(name, confirmed.id, now, `dlq redrive ${name}`);
    selects = letters.selects;
  }
  const run = async (auditRef: string | null) => {
    const { result, payloadHashes } = await engine.redrive(ctx, name, {
      options,
      selects: abortable(selects, options.signal),
      auditRef,
      ...(letters ? { planned: letters.size } : {}),
    });
    result.planId = confirmed?.id ?? planIdOf(result);
    if (letters) result.missing = letters.missing;
    result.auditRef = auditRef;
    return { result, payloadHashes };
  };
  if (!options.execute) return (await run(null)).result;
  // Audit first: the intent (with the plan the operator confirmed) is acknowledged before any
  // letter moves; the result record follows, linked by the same id.
  return withAudit(
    ctx,
    {
      command: options.command ?? `dlq redrive ${name}`,
      plan: {
        planId: confirmed?.id ?? null,
        confirmed: confirmed !== undefined,
        ...(letters ? { letters: letters.size } : {}),
      },
    },
    async ({ id }) => {
      const { result, payloadHashes } = await run(id);
      return {
        value: result,
        status:
          result.redriven === 0 && result.failed > 0
            ? 'failed'
            : redriveExitCode(result) === 0
              ? 'done'
              : 'partial',
        result: {
          planId: result.planId,
          snapshot: result.snapshot,
          selected: result.selected,
          toRedrive: result.toRedrive,
          unchanged: result.unchanged,
          invalid: result.invalid,
          redriven: result.redriven,
          failed: result.failed,
          missing: result.missing,
          remaining: result.remaining,
          arrived: result.arrived,
        },
        payloadHashes,
      };
    },
  );
}

/** Checked letter by letter: an aborted run stops at the next one, and the engine's channel closes (held letters go back). */
function abortable(selects: (m: DlqMessage) => boolean, signal: AbortSignal | undefined) {
  if (!signal) return selects;
  return (m: DlqMessage) => {
    signal.throwIfAborted();
    return selects(m);
  };
}

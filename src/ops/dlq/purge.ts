import { withAudit } from '../audit.js';
import type { OpsContext } from '../context.js';
import { PlanLetters, parsePlanId, planChanged } from './confirmed-plan.js';
import { locateDlq } from './discovery.js';
import { PlanPrint, letterHash } from './plan.js';
import type { DlqEngine, PurgeResult } from './types.js';

/** Reads (at most `cap` of) the outstanding letters, without changing anything: their plan id and the letters. */
async function planPurge(ctx: OpsContext, name: string, engine: DlqEngine, cap?: number) {
  const print = new PlanPrint();
  const letters = new PlanLetters();
  const remember = letters.collect(() => true);
  await engine.browse(
    ctx,
    name,
    (m) => {
      remember(m);
      print.add(m.id, letterHash(m.raw), 'purge');
    },
    cap === undefined ? {} : { cap },
  );
  return { planId: print.id(), letters };
}

/**
 * Counts (dry run) or removes the dead letters of a DLQ, with the removed payloads' hashes in the
 * audit. An execute removes the letters of the plan it is given (or of the plan it makes first),
 * never what arrived after it.
 */
export async function purgeDlq(
  ctx: OpsContext,
  name: string,
  options: { execute?: boolean; command?: string; plan?: string } = {},
): Promise<PurgeResult> {
  const command = options.command ?? `dlq purge ${name}`;
  const confirmed = options.plan !== undefined ? parsePlanId(options.plan, `dlq purge ${name}`) : undefined;
  const { engine } = await locateDlq(ctx, name);
  const execute = options.execute ?? false;
  const { planId, letters } = await planPurge(ctx, name, engine, confirmed?.size);
  if (execute && confirmed && planId !== confirmed.id)
    throw planChanged(name, confirmed.id, planId, `dlq purge ${name}`);
  const base = { dlq: name, kind: engine.kind, execute, planId, auditRef: null };
  if (!execute) return { ...base, count: letters.size, arrived: 0 };
  return withAudit(
    ctx,
    { command, plan: { dlq: name, planId, count: letters.size, confirmed: confirmed !== undefined } },
    async ({ id }) => {
      const run = await engine.purge(
        ctx,
        name,
        true,
        { selects: letters.selects, planned: letters.size },
        id,
      );
      return {
        value: { ...base, count: run.count, arrived: run.arrived ?? 0, auditRef: id },
        result: { removed: run.count, arrived: run.arrived ?? 0 },
        payloadHashes: run.payloadHashes,
      };
    },
  );
}

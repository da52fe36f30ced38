import type { OpsContext } from '../context.js';
import { allDlqs, locateDlq, type DlqLocation } from './discovery.js';
import { parseFilter } from './edits.js';
import { failureClass } from './failure.js';
import { filterView } from './message-view.js';
import type { DlqMessage, DlqSummary } from './types.js';

/** Reading dead letters without removing any: `dlq list` and `dlq show`. */

/** Messages read for a summary's oldest/newest/byClass at most. */
const SCAN_CAP = 20000;

/** A summary built letter by letter, so a deep DLQ is never held in memory. */
function summarizer(at: DlqLocation) {
  const byClass: Record<string, number> = {};
  let oldest: string | null = null;
  let newest: string | null = null;
  let source: string | null = null;
  let scanned = 0;
  return {
    add(m: DlqMessage): void {
      scanned++;
      const label = failureClass(m);
      byClass[label] = (byClass[label] ?? 0) + 1;
      const t = m.lastFailureAt;
      if (t && (oldest === null || t < oldest)) oldest = t;
      if (t && (newest === null || t > newest)) newest = t;
      source ??= m.destination;
    },
    summary(count: number): DlqSummary {
      const { name, engine } = at;
      return { name, kind: engine.kind, count, oldest, newest, byClass, source, scanned };
    },
  };
}

/** Every DLQ of every source. A broker or database that is down fails the call (naming it). */
export async function listDlqs(ctx: OpsContext): Promise<DlqSummary[]> {
  const out: DlqSummary[] = [];
  for (const at of await allDlqs(ctx)) {
    const s = summarizer(at);
    const count = await at.engine.browse(ctx, at.name, (m) => s.add(m), SCAN_CAP);
    out.push(s.summary(count));
  }
  return out;
}

export interface ShowOptions {
  limit?: number;
  filter?: string;
}

/** Browses without removing anything. */
export async function showDlq(
  ctx: OpsContext,
  name: string,
  options: ShowOptions = {},
): Promise<DlqMessage[]> {
  const pred = parseFilter(options.filter);
  const limit = options.limit ?? 50;
  const { engine } = await locateDlq(ctx, name);
  const out: DlqMessage[] = [];
  await engine.browse(ctx, name, (m) => {
    if (pred(filterView(m))) out.push(m);
    return out.length < limit;
  });
  return out;
}

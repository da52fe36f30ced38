import type { OpsContext } from '../context.js';
import { allDlqs, engineOf, locateDlq, type DlqLocation } from './discovery.js';
import { parseFilter, type Filter } from './filter.js';
import { failureClass } from './failure.js';
import { filterView } from './message-view.js';
import type { DlqKind, DlqMessage, DlqSummary } from './types.js';

/** Reading dead letters without removing any: `dlq list` and `dlq show`. */

/**
 * Letters a summary reads at most: on Kafka spread over the whole DLQ (its oldest and newest
 * letters among them, failure classes sampled), on a queue its first ones. `scanned` says how
 * many; a DLQ of millions is listed in a few fetches, never scanned.
 */
export const SUMMARY_SAMPLE = 5000;

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

/**
 * Every DLQ of every source, summarized at once. A broker or database that is down fails the call
 * (naming it); a DLQ deleted while the list reads it (another team's test queue, a purged retry
 * tier) is left out, as it would be by a list taken a moment later.
 */
export async function listDlqs(ctx: OpsContext): Promise<DlqSummary[]> {
  let again: Promise<DlqLocation[]> | undefined;
  const summaries = await Promise.all(
    (await allDlqs(ctx)).map(async (at) => {
      const s = summarizer(at);
      try {
        const { count } = await at.engine.browse(ctx, at.name, (m) => s.add(m), {
          cap: SUMMARY_SAMPLE,
          spread: true,
          headsOnly: true,
        });
        return s.summary(count);
      } catch (e) {
        again ??= allDlqs(ctx);
        if ((await again).some((d) => d.name === at.name && d.engine === at.engine)) throw e;
        return undefined;
      }
    }),
  );
  return summaries.filter((s): s is DlqSummary => s !== undefined);
}

export interface ShowOptions {
  limit?: number;
  filter?: string;
  /** Kafka: from the first letter written at or after this time. */
  since?: Date;
  /** Only letters whose bytes hold this text can match the filter (an order id): the others are not parsed. */
  needle?: string;
  /**
   * Where the DLQ is, when the caller already knows (trace lists the queues itself): not looked
   * up among every source's DLQs, which asks Kafka, RabbitMQ and the database for their names.
   */
  kind?: DlqKind;
  /** Letters read at most (a filter that matches few letters stops here, saying so). */
  maxRead?: number;
  /** Each matching letter as soon as it is read. */
  onMessage?: (m: DlqMessage) => void;
  /** Letters read so far, of how many outstanding, after each fetch. */
  onRead?: (read: number) => void;
}

/** What a browse found, and how far it read. */
export interface ShowResult {
  messages: DlqMessage[];
  kind: DlqKind;
  /** Outstanding dead letters when it started. */
  count: number;
  /** Letters read to find them: `limit` when the first ones match, all `count` when few or none do. */
  read: number;
  /** Why it stopped: it had `limit` letters, read `maxRead`, or came to the end. */
  stopped: 'limit' | 'max-read' | 'end';
}

/**
 * Whether a letter whose payload is not decoded yet could match: exact for every field but the
 * payload's (a filter on `payload.*` or `decodeError` decodes each letter first), and for
 * `orderId` when the record has no key (the order id is then the payload's).
 */
function headPrefilter(pred: Filter): ((m: DlqMessage) => boolean) | undefined {
  if (pred.fields.size === 0 || pred.fields.has('payload') || pred.fields.has('decodeError'))
    return undefined;
  const byOrder = pred.fields.has('orderId');
  return (m) => (byOrder && m.orderId === null) || pred(filterView(m));
}

/**
 * Browses without removing anything: the first `limit` letters (matching the filter), read in
 * order from the DLQ's cursor — on Kafka one small fetch per partition for a first page, however
 * deep the DLQ.
 */
export async function browseDlq(
  ctx: OpsContext,
  name: string,
  options: ShowOptions = {},
): Promise<ShowResult> {
  const pred = parseFilter(options.filter);
  const limit = options.limit ?? 50;
  const maxRead = options.maxRead ?? Number.POSITIVE_INFINITY;
  const engine = options.kind ? await engineOf(options.kind) : (await locateDlq(ctx, name)).engine;
  const messages: DlqMessage[] = [];
  const prefilter = headPrefilter(pred);
  const { count, read } = await engine.browse(
    ctx,
    name,
    (m) => {
      if (pred(filterView(m))) {
        messages.push(m);
        options.onMessage?.(m);
      }
      return messages.length < limit;
    },
    {
      cap: maxRead,
      ...(options.since ? { since: options.since.getTime() } : {}),
      ...(prefilter ? { prefilter } : {}),
      ...(options.needle !== undefined ? { needle: options.needle } : {}),
      ...(options.onRead ? { onRead: options.onRead } : {}),
    },
  );
  const stopped = messages.length >= limit ? 'limit' : read >= maxRead && read < count ? 'max-read' : 'end';
  return { messages, kind: engine.kind, count, read, stopped };
}

/** Browses without removing anything: the letters only. */
export async function showDlq(
  ctx: OpsContext,
  name: string,
  options: ShowOptions = {},
): Promise<DlqMessage[]> {
  return (await browseDlq(ctx, name, options)).messages;
}

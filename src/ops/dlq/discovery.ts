import { unknownNameError } from '../../errors.js';
import type { OpsContext } from '../context.js';
import type { DlqEngine, DlqKind } from './types.js';

/**
 * Dead letters, wherever they are: Kafka `*.dlq` topics, RabbitMQ `*.dlq` queues, and the
 * outbox's parked rows (`outbox.parked`, on a target with orderbus's PostgreSQL). Each engine is
 * loaded when first asked for: `dlq show` of a Kafka topic does not load the task schemas (their
 * validators compile as the module loads) nor ask RabbitMQ and PostgreSQL for their names.
 */
const kafkaEngine = async (): Promise<DlqEngine> => (await import('./kafka-engine.js')).kafkaEngine;
const OTHER_ENGINES: readonly (() => Promise<DlqEngine>)[] = [
  async () => (await import('./rabbit-engine.js')).rabbitEngine,
  async () => (await import('./outbox-engine.js')).outboxEngine,
];

/** The engine of a source, for a caller that already knows where its DLQ is. */
export async function engineOf(kind: DlqKind): Promise<DlqEngine> {
  const all = await Promise.all([kafkaEngine, ...OTHER_ENGINES].map((load) => load()));
  const engine = all.find((e) => e.kind === kind);
  if (!engine) throw new Error(`unreachable: no DLQ engine of kind ${kind}`);
  return engine;
}

const settled = <T>(p: Promise<T>): Promise<PromiseSettledResult<T>> =>
  p.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

/** A DLQ found by name, with the engine of its broker. */
export interface DlqLocation {
  name: string;
  engine: DlqEngine;
}

/** Every DLQ of every source, Kafka first. A broker or database that is down fails the call (naming it). */
export async function allDlqs(ctx: OpsContext): Promise<DlqLocation[]> {
  const all = await Promise.all([kafkaEngine, ...OTHER_ENGINES].map((load) => load()));
  const names = await Promise.all(all.map((engine) => engine.list(ctx)));
  return all.flatMap((engine, i) => (names[i] ?? []).map((name) => ({ name, engine })));
}

/**
 * Finds a DLQ by name in any source, or fails listing the close matches. Kafka answers first: a
 * name it holds is its whatever the others hold (as when all were asked at once), so the others
 * are asked only for a name it does not hold.
 */
export async function locateDlq(ctx: OpsContext, name: string): Promise<DlqLocation> {
  const kafka = await kafkaEngine();
  const onKafka = await settled(kafka.list(ctx));
  if (onKafka.status === 'fulfilled' && onKafka.value.includes(name)) return { name, engine: kafka };
  const others = await Promise.all(OTHER_ENGINES.map((load) => load()));
  const all = [kafka, ...others];
  const listed = [onKafka, ...(await Promise.all(others.map((engine) => settled(engine.list(ctx)))))];
  const names = listed.map((l) => (l.status === 'fulfilled' ? l.value : []));
  const i = names.findIndex((n) => n.includes(name));
  const engine = all[i];
  if (engine) return { name, engine };
  for (const owner of all) if (await owner.owns?.(ctx, name)) return { name, engine: owner };
  const known = names.flat();
  const down = listed.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (down && known.length === 0) throw down.reason;
  throw unknownNameError('dead-letter queue or topic', name, known, 'orderbus dlq list', {
    code: 'UNKNOWN_DLQ',
  });
}

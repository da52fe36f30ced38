import { unknownNameError } from '../../errors.js';
import type { OpsContext } from '../context.js';
import { kafkaEngine } from './kafka-engine.js';
import { outboxEngine } from './outbox-engine.js';
import { rabbitEngine } from './rabbit-engine.js';
import type { DlqEngine } from './types.js';

/**
 * Dead letters, wherever they are: Kafka `*.dlq` topics, RabbitMQ `*.dlq` queues, and the
 * outbox's parked rows (`outbox.parked`, on a target with orderbus's PostgreSQL).
 */
const ENGINES: readonly DlqEngine[] = [kafkaEngine, rabbitEngine, outboxEngine];

/** A DLQ found by name, with the engine of its broker. */
export interface DlqLocation {
  name: string;
  engine: DlqEngine;
}

/** Every DLQ of every source, Kafka first. A broker or database that is down fails the call (naming it). */
export async function allDlqs(ctx: OpsContext): Promise<DlqLocation[]> {
  const names = await Promise.all(ENGINES.map((engine) => engine.list(ctx)));
  return ENGINES.flatMap((engine, i) => (names[i] ?? []).map((name) => ({ name, engine })));
}

/** Finds a DLQ by name in any source, or fails listing the close matches. */
export async function locateDlq(ctx: OpsContext, name: string): Promise<DlqLocation> {
  const listed = await Promise.allSettled(ENGINES.map((engine) => engine.list(ctx)));
  const names = listed.map((l) => (l.status === 'fulfilled' ? l.value : []));
  const i = names.findIndex((n) => n.includes(name));
  const engine = ENGINES[i];
  if (engine) return { name, engine };
  for (const owner of ENGINES) if (await owner.owns?.(ctx, name)) return { name, engine: owner };
  const known = names.flat();
  const down = listed.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (down && known.length === 0) throw down.reason;
  throw unknownNameError('dead-letter queue or topic', name, known, 'orderbus dlq list', {
    code: 'UNKNOWN_DLQ',
  });
}

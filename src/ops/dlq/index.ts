/**
 * Dead letters, wherever they are: Kafka `*.dlq` topics, RabbitMQ `*.dlq` queues and the outbox's
 * parked rows (`outbox.parked`). One engine per source (kafka-engine.ts, rabbit-engine.ts,
 * outbox-engine.ts) behind `DlqEngine`; discovery finds a DLQ's engine by name; planning and
 * payload edits are shared by all.
 */
export { browseDlq, listDlqs, showDlq, type ShowOptions, type ShowResult } from './browse.js';
export { redriveDlq } from './redrive.js';
export { purgeDlq } from './purge.js';
export { redriveExitCode } from './plan.js';
export { cursorGroup } from './kafka-cursor.js';
export { parseFilter, parseFixUrl, parseSet, readPatch, type Json, type PayloadEdits } from './edits.js';
export type {
  DlqKind,
  DlqMessage,
  DlqSummary,
  PurgeResult,
  RedriveItem,
  RedriveOptions,
  RedriveResult,
} from './types.js';

/**
 * Dead letters, wherever they are: Kafka `*.dlq` topics and RabbitMQ `*.dlq` queues. One engine
 * per broker (kafka-engine.ts, rabbit-engine.ts) behind `DlqEngine`; discovery finds a DLQ's
 * engine by name; planning and payload edits are shared by both.
 */
export { listDlqs, showDlq, type ShowOptions } from './browse.js';
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

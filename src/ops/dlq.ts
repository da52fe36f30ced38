import type { ConsumeMessage, GetMessage } from 'amqplib';
import type { IHeaders } from 'kafkajs';
import { EventCodec } from '../events/codec.js';
import { KafkaDlqHeaders, EventHeaders, type EventEnvelope } from '../events/types.js';
import { ExitCode, OrderbusError, closeMatches, errorMessage } from '../errors.js';
import { TaskHeaders } from '../tasks/topology.js';
import { headerString } from '../tasks/task.js';
import { validateTask } from '../tasks/task-schema.js';
import type { KafkaRecord } from '../adapters/kafka-fetch.js';
import { sendConfirmed } from '../adapters/kafka.js';
import { connectRabbit } from '../adapters/rabbitmq.js';
import type { OpsContext } from './context.js';
import { listQueues } from './queues.js';
import { appendAudit, newAuditRef, sha256 } from './audit.js';
import { applyEdits, hasEdits, jsonDiff, parseFilter, type Json, type PayloadEdits } from './edits.js';

/**
 * Dead letters, wherever they are: Kafka `*.dlq` topics and RabbitMQ `*.dlq` queues.
 *
 * Kafka DLQ records are never deleted; a per-DLQ cursor group (`orderbus-dlq.<topic>`) marks
 * how far they have been handled (redriven or purged). Its committed offset only moves after the
 * producer's acks=all confirmed the re-publish, so a kill at any point leaves the record
 * outstanding (at worst re-published twice, which the consumers' inbox absorbs by event id).
 *
 * RabbitMQ dead letters are browsed by taking them unacknowledged and giving them back (a
 * classic queue requeues to the original position), and redriven by publishing on a confirm
 * channel and acking the dead letter only after the confirm.
 */
export type DlqKind = 'kafka' | 'rabbitmq';

export interface DlqSummary {
  name: string;
  kind: DlqKind;
  count: number;
  oldest: string | null;
  newest: string | null;
  byClass: Record<string, number>;
  /** Where its messages came from. */
  source: string | null;
  /** Messages read to compute oldest/newest/byClass (all, unless more than the scan cap). */
  scanned: number;
}

export interface DlqMessage {
  /** Stable id: `partition:offset` on Kafka, the task id (or message id) on RabbitMQ. */
  id: string;
  dlq: string;
  kind: DlqKind;
  orderId: string | null;
  /** The decoded payload (event envelope or task), null when it cannot be decoded. */
  payload: Json | null;
  /** The payload as text (UTF-8), for what cannot be decoded. */
  raw: string;
  decodeError: string | null;
  headers: Record<string, string>;
  attempts: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  statusCode: number | null;
  firstFailureAt: string | null;
  lastFailureAt: string | null;
  /** `topic` (Kafka) or `exchange/routingKey` (RabbitMQ). */
  destination: string | null;
  redriveCount: number;
}

const SCAN_CAP = 20000;

export const cursorGroup = (topic: string) => `orderbus-dlq.${topic}`;

interface Located {
  name: string;
  kind: DlqKind;
}

async function kafkaDlqs(ctx: OpsContext): Promise<string[]> {
  const admin = await ctx.admin();
  return (await admin.listTopics()).filter((t) => t.endsWith('.dlq')).sort();
}

async function rabbitDlqs(ctx: OpsContext): Promise<string[]> {
  return (await listQueues(ctx)).filter((q) => q.role === 'dlq').map((q) => q.name);
}

/** Finds a DLQ by name on either broker, or fails listing the close matches. */
export async function locateDlq(ctx: OpsContext, name: string): Promise<Located> {
  const [k, r] = await Promise.allSettled([kafkaDlqs(ctx), rabbitDlqs(ctx)]);
  const kafka = k.status === 'fulfilled' ? k.value : [];
  const rabbit = r.status === 'fulfilled' ? r.value : [];
  if (kafka.includes(name)) return { name, kind: 'kafka' };
  if (rabbit.includes(name)) return { name, kind: 'rabbitmq' };
  const down = [k, r].find((x) => x.status === 'rejected');
  if (down && kafka.length + rabbit.length === 0) throw down.reason;
  const near = closeMatches(name, [...kafka, ...rabbit]);
  throw new OrderbusError(
    'UNKNOWN_DLQ',
    `no dead-letter queue or topic named '${name}'${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}`,
    { hint: 'orderbus dlq list', subject: name, details: { closeMatches: near } },
  );
}

// ---------------------------------------------------------------- views

const num = (s: string | undefined): number | null => {
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};

function kafkaView(
  dlq: string,
  r: KafkaRecord,
  payload: Json | null,
  decodeError: string | null,
): DlqMessage {
  const h = r.headers;
  return {
    id: `${r.partition}:${r.offset}`,
    dlq,
    kind: 'kafka',
    orderId: r.key?.toString('utf8') ?? (payload as { orderId?: string } | null)?.orderId ?? null,
    payload,
    raw: r.value?.toString('utf8') ?? '',
    decodeError,
    headers: h,
    attempts: num(h[KafkaDlqHeaders.attempts]),
    errorClass: h[KafkaDlqHeaders.errorClass] ?? null,
    errorMessage: h[KafkaDlqHeaders.errorMessage] ?? null,
    statusCode: null,
    firstFailureAt: h[KafkaDlqHeaders.firstFailureAt] ?? null,
    lastFailureAt: h[KafkaDlqHeaders.lastFailureAt] ?? new Date(r.timestamp).toISOString(),
    destination: h[KafkaDlqHeaders.originalTopic] ?? null,
    redriveCount: num(h[KafkaDlqHeaders.redriveCount]) ?? 0,
  };
}

function amqpHeaders(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h ?? {})) {
    const v = headerString(h, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function rabbitDestination(
  h: Record<string, string>,
  dlq: string,
): { exchange: string; routingKey: string } | null {
  const exchange = h[TaskHeaders.originalExchange];
  const routingKey = h[TaskHeaders.originalRoutingKey] ?? h[TaskHeaders.originalQueue];
  if (exchange !== undefined && routingKey) return { exchange, routingKey };
  // Dead-lettered by the broker itself (delivery limit): back to the queue through the default exchange.
  if (dlq.endsWith('.dlq')) return { exchange: '', routingKey: dlq.slice(0, -'.dlq'.length) };
  return null;
}

function rabbitView(dlq: string, m: GetMessage | ConsumeMessage, position: number): DlqMessage {
  const h = amqpHeaders(m.properties.headers);
  const raw = m.content.toString('utf8');
  let payload: Json | null = null;
  let decodeError: string | null = null;
  try {
    payload = JSON.parse(raw) as Json;
  } catch (e) {
    decodeError = `not JSON: ${errorMessage(e)}`;
  }
  const dest = rabbitDestination(h, dlq);
  const props = m.properties as { messageId?: string };
  return {
    id: h[TaskHeaders.taskId] ?? props.messageId ?? `#${position}`,
    dlq,
    kind: 'rabbitmq',
    orderId: h[TaskHeaders.orderId] ?? (payload as { orderId?: string } | null)?.orderId ?? null,
    payload,
    raw,
    decodeError,
    headers: h,
    attempts: num(h[TaskHeaders.attempt]),
    errorClass: h[TaskHeaders.errorClass] ?? null,
    errorMessage: h[TaskHeaders.errorMessage] ?? null,
    statusCode: num(h[TaskHeaders.statusCode]),
    firstFailureAt: h[TaskHeaders.firstFailureAt] ?? null,
    lastFailureAt: h[TaskHeaders.lastFailureAt] ?? null,
    destination: dest ? `${dest.exchange || '(default)'}/${dest.routingKey}` : null,
    redriveCount: num(h[TaskHeaders.redriveCount]) ?? 0,
  };
}

/** The view the filter language sees. */
const filterView = (m: DlqMessage): Record<string, unknown> => ({ ...m });

// ---------------------------------------------------------------- Kafka reading

interface KafkaRange {
  partition: number;
  from: number;
  until: number;
  /** Offsets in [from, until) already redriven: after a record left in place, the cursor cannot pass them. */
  handled: Set<number>;
}

const outstandingCount = (ranges: KafkaRange[]): number =>
  ranges.reduce((s, r) => s + Math.max(0, r.until - r.from - r.handled.size), 0);

const HANDLED_PREFIX = 'orderbus-dlq/1 handled=';
/** Kafka's default offset.metadata.max.bytes is 4096; what does not fit is redriven again (a duplicate at worst). */
const HANDLED_MAX_CHARS = 3800;

/** The cursor commit's metadata: the offsets past the cursor already redriven, as ranges ("105-110,115"). */
export function encodeHandled(offsets: Iterable<number>): string | null {
  const sorted = [...offsets].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const parts: string[] = [];
  let length = HANDLED_PREFIX.length;
  for (let i = 0; i < sorted.length;) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i] as number;
    i++;
    const part = start === end ? String(start) : `${start}-${end}`;
    if (length + part.length + 1 > HANDLED_MAX_CHARS) break;
    parts.push(part);
    length += part.length + 1;
  }
  return HANDLED_PREFIX + parts.join(',');
}

export function decodeHandled(metadata: string | null | undefined): Set<number> {
  const out = new Set<number>();
  if (!metadata?.startsWith(HANDLED_PREFIX)) return out;
  for (const part of metadata.slice(HANDLED_PREFIX.length).split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isSafeInteger(a)) continue;
    const end = b !== undefined && Number.isSafeInteger(b) ? b : a;
    for (let o = a; o <= end && o - a < 1_000_000; o++) out.add(o);
  }
  return out;
}

async function kafkaOutstanding(ctx: OpsContext, topic: string): Promise<KafkaRange[]> {
  const admin = await ctx.admin();
  const [marks, cursor] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: cursorGroup(topic), topics: [topic] }),
  ]);
  const committed = new Map((cursor[0]?.partitions ?? []).map((p) => [p.partition, p] as const));
  return marks
    .map((m) => {
      const low = Number(m.low);
      const c = committed.get(m.partition);
      const from = Math.max(low, Number(c?.offset ?? -1));
      const until = Number(m.high);
      const handled = new Set([...decodeHandled(c?.metadata)].filter((o) => o >= from && o < until));
      return { partition: m.partition, from, until, handled };
    })
    .sort((a, b) => a.partition - b.partition);
}

async function decodeKafka(
  codec: EventCodec,
  r: KafkaRecord,
): Promise<{ payload: Json | null; error: string | null }> {
  try {
    return { payload: (await codec.decode(r.value)) as unknown as Json, error: null };
  } catch (e) {
    const raw = r.value?.toString('utf8') ?? '';
    try {
      return { payload: JSON.parse(raw) as Json, error: `${errorMessage(e)} (shown as plain JSON)` };
    } catch {
      return { payload: null, error: errorMessage(e) };
    }
  }
}

async function eachKafkaDead(
  ctx: OpsContext,
  topic: string,
  fn: (m: DlqMessage, r: KafkaRecord) => Promise<boolean | void> | boolean | void,
  cap = Number.POSITIVE_INFINITY,
): Promise<void> {
  const codec = EventCodec.fromConfig(ctx.config, ctx.config.topics.orderEvents);
  let seen = 0;
  let stop = false;
  for (const range of await kafkaOutstanding(ctx, topic)) {
    if (stop || range.from >= range.until) continue;
    await ctx.reader().readRange(topic, range.partition, range.from, range.until, async (batch) => {
      for (const r of batch) {
        if (stop) return;
        if (range.handled.has(r.offset)) continue;
        const { payload, error } = await decodeKafka(codec, r);
        if ((await fn(kafkaView(topic, r, payload, error), r)) === false || ++seen >= cap) stop = true;
      }
    });
  }
}

// ---------------------------------------------------------------- RabbitMQ reading

/**
 * Takes up to `max` messages off a queue unacknowledged, calls `fn` for each, then returns every
 * message not acked by `fn` to its original position (channel close requeues them).
 */
async function browseRabbit(
  ctx: OpsContext,
  queue: string,
  max: number,
  fn: (m: DlqMessage, msg: GetMessage) => Promise<void> | void,
): Promise<void> {
  const conn = await ctx.amqp();
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    for (let i = 0; i < max; i++) {
      const msg = await ch.get(queue, { noAck: false });
      if (!msg) break;
      await fn(rabbitView(queue, msg, i), msg);
    }
  } finally {
    await ch.close().catch(() => undefined);
  }
}

async function rabbitDepth(ctx: OpsContext, queue: string): Promise<number> {
  const conn = await ctx.amqp();
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- list / show

function summarize(name: string, kind: DlqKind, count: number, messages: DlqMessage[]): DlqSummary {
  const byClass: Record<string, number> = {};
  let oldest: string | null = null;
  let newest: string | null = null;
  let source: string | null = null;
  for (const m of messages) {
    const cls = m.errorClass ?? (m.statusCode !== null ? `HTTP ${m.statusCode}` : 'unknown');
    const label = m.statusCode !== null && m.errorClass ? `${m.errorClass} (${m.statusCode})` : cls;
    byClass[label] = (byClass[label] ?? 0) + 1;
    const t = m.lastFailureAt;
    if (t && (oldest === null || t < oldest)) oldest = t;
    if (t && (newest === null || t > newest)) newest = t;
    source ??= m.destination;
  }
  return { name, kind, count, oldest, newest, byClass, source, scanned: messages.length };
}

export async function dlqSummary(ctx: OpsContext, located: Located): Promise<DlqSummary> {
  const messages: DlqMessage[] = [];
  if (located.kind === 'kafka') {
    const count = outstandingCount(await kafkaOutstanding(ctx, located.name));
    await eachKafkaDead(ctx, located.name, (m) => void messages.push(m), SCAN_CAP);
    return summarize(located.name, 'kafka', count, messages);
  }
  const count = await rabbitDepth(ctx, located.name);
  await browseRabbit(ctx, located.name, Math.min(count, SCAN_CAP), (m) => void messages.push(m));
  return summarize(located.name, 'rabbitmq', count, messages);
}

/** Every DLQ on both brokers. A broker that is down fails the call (naming it). */
export async function listDlqs(ctx: OpsContext): Promise<DlqSummary[]> {
  const [kafka, rabbit] = await Promise.all([kafkaDlqs(ctx), rabbitDlqs(ctx)]);
  const out: DlqSummary[] = [];
  for (const name of kafka) out.push(await dlqSummary(ctx, { name, kind: 'kafka' }));
  for (const name of rabbit) out.push(await dlqSummary(ctx, { name, kind: 'rabbitmq' }));
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
  const located = await locateDlq(ctx, name);
  const out: DlqMessage[] = [];
  if (located.kind === 'kafka') {
    await eachKafkaDead(ctx, name, (m) => {
      if (pred(filterView(m))) out.push(m);
      return out.length < limit;
    });
  } else {
    const depth = await rabbitDepth(ctx, name);
    await browseRabbit(ctx, name, depth, (m) => {
      if (out.length < limit && pred(filterView(m))) out.push(m);
    });
  }
  return out;
}

// ---------------------------------------------------------------- redrive

export interface RedriveOptions extends PayloadEdits {
  filter?: string;
  limit?: number;
  /** Messages per second; unlimited when absent. */
  rate?: number;
  /** Replacement payloads by message id (from $EDITOR). */
  replacements?: Record<string, Json>;
  /** Only these ids. */
  ids?: string[];
  execute?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** The command line, for the audit record. */
  command?: string;
}

export interface RedriveItem {
  id: string;
  orderId: string | null;
  destination: string | null;
  changed: boolean;
  diff: string[];
  valid: boolean;
  problems: string[];
  /** What happened (execute) or would happen (dry run). */
  outcome: 'redriven' | 'would-redrive' | 'invalid' | 'failed';
}

export interface RedriveResult {
  dlq: string;
  kind: DlqKind;
  execute: boolean;
  selected: number;
  toRedrive: number;
  unchanged: number;
  invalid: number;
  redriven: number;
  failed: number;
  /** Messages left in the DLQ afterwards (execute) or now (dry run). */
  remaining: number;
  auditRef: string | null;
  items: RedriveItem[];
}

const ITEMS_KEPT = 2000;
/** Re-publishes awaiting their confirm at most (bounds memory; the broker confirms in batches). */
const CONFIRM_WINDOW = 2000;

class Pacer {
  private next = Date.now();
  constructor(private readonly rate: number | undefined) {}
  async take(): Promise<void> {
    if (!this.rate) return;
    const now = Date.now();
    if (this.next > now) await new Promise((r) => setTimeout(r, this.next - now));
    this.next = Math.max(now, this.next) + 1000 / this.rate;
  }
}

interface Decision {
  item: RedriveItem;
  after: Json | null;
}

function decide(
  m: DlqMessage,
  options: RedriveOptions,
  validate: (p: Json) => string[],
  withDiff = true,
): Decision {
  const replacement = options.replacements?.[m.id];
  let after: Json | null = m.payload;
  if (replacement !== undefined) after = replacement;
  if (after !== null && hasEdits(options)) after = applyEdits(after, options);
  const problems: string[] = [];
  if (after === null)
    problems.push(m.decodeError ?? 'payload cannot be decoded; edit it (--edit or --set) first');
  else problems.push(...validate(after));
  const changed = after !== null && JSON.stringify(after) !== JSON.stringify(m.payload);
  const valid = problems.length === 0;
  return {
    after,
    item: {
      id: m.id,
      orderId: m.orderId,
      destination: m.destination,
      changed,
      diff: withDiff && changed && m.payload !== null && after !== null ? jsonDiff(m.payload, after) : [],
      valid,
      problems,
      outcome: valid ? (options.execute ? 'redriven' : 'would-redrive') : 'invalid',
    },
  };
}

function emptyResult(dlq: string, kind: DlqKind, execute: boolean): RedriveResult {
  return {
    dlq,
    kind,
    execute,
    selected: 0,
    toRedrive: 0,
    unchanged: 0,
    invalid: 0,
    redriven: 0,
    failed: 0,
    remaining: 0,
    auditRef: null,
    items: [],
  };
}

function record(result: RedriveResult, d: Decision): void {
  result.selected++;
  if (d.item.valid) {
    result.toRedrive++;
    if (!d.item.changed) result.unchanged++;
  } else result.invalid++;
  if (result.items.length < ITEMS_KEPT) result.items.push(d.item);
}

export async function redriveDlq(
  ctx: OpsContext,
  name: string,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const pred = parseFilter(options.filter);
  const ids = options.ids ? new Set(options.ids) : undefined;
  const selects = (m: DlqMessage) => (!ids || ids.has(m.id)) && pred(filterView(m));
  const located = await locateDlq(ctx, name);
  const auditRef = options.execute ? newAuditRef() : null;
  const result =
    located.kind === 'kafka'
      ? await redriveKafka(ctx, name, options, selects, auditRef)
      : await redriveRabbit(ctx, name, options, selects, auditRef);
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
      payloadHashes: hashes.get(result) ?? [],
    });
  }
  return result;
}

const hashes = new WeakMap<RedriveResult, { id: string; before: string; after?: string }[]>();
function addHash(result: RedriveResult, id: string, before: string, after: string | undefined): void {
  const list = hashes.get(result) ?? [];
  if (list.length < ITEMS_KEPT) list.push({ id, before, ...(after !== undefined ? { after } : {}) });
  hashes.set(result, list);
}

async function redriveRabbit(
  ctx: OpsContext,
  queue: string,
  options: RedriveOptions,
  selects: (m: DlqMessage) => boolean,
  auditRef: string | null,
): Promise<RedriveResult> {
  const result = emptyResult(queue, 'rabbitmq', options.execute ?? false);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const total = await rabbitDepth(ctx, queue);
  const conn = await ctx.amqp();
  // Deliveries on one channel, re-publishes on a confirm channel; a dead letter is acked only
  // after the broker confirmed its re-publish. Unselected and invalid messages stay unacked
  // until the end and go back to their positions when the channel closes.
  const sub = await conn.createChannel();
  // Re-publishes go over their own connection: the broker then reads deliveries/acks and
  // publishes/confirms in parallel instead of through one connection's processes.
  const pubConn = await connectRabbit(ctx.config, 'orderbus-ops-redrive');
  const pub = await pubConn.createConfirmChannel();
  sub.on('error', () => undefined);
  pub.on('error', () => undefined);
  const pacer = new Pacer(options.rate);
  const inbox: ConsumeMessage[] = [];
  let wake: (() => void) | undefined;
  let received = 0;
  const batchSize = options.rate ? Math.max(1, Math.min(500, Math.floor(options.rate))) : 500;
  let unconfirmed = 0;
  let windowOpen: (() => void) | undefined;
  let closed = false;
  const channelGone = () => {
    closed = true;
    windowOpen?.();
  };
  pub.on('close', channelGone);
  sub.on('close', channelGone);
  const assertOpen = () => {
    if (closed)
      throw new OrderbusError(
        'REDRIVE_CHANNEL_CLOSED',
        `the channel to RabbitMQ closed during the redrive of ${queue}`,
        {
          hint: `orderbus dlq redrive ${queue} --execute (what was not confirmed is still in the DLQ; running again is safe)`,
          retriable: true,
        },
      );
  };
  try {
    if (total === 0) {
      result.remaining = 0;
      return result;
    }
    const { consumerTag } = await sub.consume(
      queue,
      (msg) => {
        if (!msg) return;
        inbox.push(msg);
        wake?.();
      },
      { noAck: false },
    );
    let position = 0;
    let done = 0;
    const goal = Math.min(total, limit);
    options.onProgress?.(0, goal);
    // `total` counts only the messages ready at the start: others may be held unacked for a
    // moment by a browse (the console's DLQ screen refreshing) and come back when it closes, so
    // after the count the loop still waits a second for stragglers before it ends.
    while (result.selected < limit) {
      if (inbox.length === 0) {
        const got = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), received < total ? 3000 : 1000);
          wake = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        wake = undefined;
        if (!got) break; // nothing more came: fewer than counted (someone else took them) or all done
        continue;
      }
      const batch = inbox.splice(0, Math.min(inbox.length, batchSize));
      received += batch.length;
      for (const msg of batch) {
        const view = rabbitView(queue, msg, position++);
        if (result.selected >= limit || !selects(view)) continue;
        const d = decide(view, options, validateTask, result.items.length < ITEMS_KEPT);
        record(result, d);
        if (!d.item.valid || !options.execute) continue;
        const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
        const dest = rabbitDestination(view.headers, queue);
        if (!dest) {
          d.item.valid = false;
          d.item.outcome = 'invalid';
          d.item.problems.push('no original destination in its headers');
          result.invalid++;
          result.toRedrive--;
          continue;
        }
        await pacer.take();
        while (unconfirmed >= CONFIRM_WINDOW && !closed) await new Promise<void>((r) => (windowOpen = r));
        assertOpen();
        const body = d.item.changed ? Buffer.from(JSON.stringify(d.after)) : msg.content;
        const item = d.item;
        unconfirmed++;
        // Each dead letter is acked from its own publish confirm: publishing streams on without
        // waiting batch by batch, and nothing is acked that the broker did not confirm.
        pub.publish(
          dest.exchange,
          dest.routingKey,
          body,
          {
            ...msg.properties,
            persistent: true,
            headers: {
              ...h,
              [TaskHeaders.attempt]: 1,
              [TaskHeaders.redriveCount]: view.redriveCount + 1,
              [TaskHeaders.auditRef]: auditRef ?? '',
            },
          },
          (err: unknown) => {
            unconfirmed--;
            if (err) {
              result.failed++;
              item.outcome = 'failed';
            } else {
              try {
                sub.ack(msg);
                result.redriven++;
              } catch {
                // The delivery channel is gone: the dead letter is requeued; at worst a duplicate.
                result.failed++;
                item.outcome = 'failed';
              }
            }
            windowOpen?.();
          },
        );
        addHash(result, view.id, sha256(msg.content), d.item.changed ? sha256(body) : undefined);
      }
      done += batch.length;
      options.onProgress?.(Math.min(done, goal), goal);
    }
    await pub.waitForConfirms().catch(() => undefined);
    while (unconfirmed > 0 && !closed) await new Promise<void>((r) => (windowOpen = r));
    assertOpen();
    await sub.cancel(consumerTag).catch(() => undefined);
  } finally {
    await sub.close().catch(() => undefined);
    await pub.close().catch(() => undefined);
    await pubConn.close().catch(() => undefined);
  }
  result.remaining = await rabbitDepth(ctx, queue);
  return result;
}

async function redriveKafka(
  ctx: OpsContext,
  topic: string,
  options: RedriveOptions,
  selects: (m: DlqMessage) => boolean,
  auditRef: string | null,
): Promise<RedriveResult> {
  const result = emptyResult(topic, 'kafka', options.execute ?? false);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const codec = EventCodec.fromConfig(ctx.config, ctx.config.topics.orderEvents);
  const producer = options.execute ? await ctx.producer() : undefined;
  const pacer = new Pacer(options.rate);
  const ranges = await kafkaOutstanding(ctx, topic);
  const goal = Math.min(limit, outstandingCount(ranges));
  let done = 0;
  options.onProgress?.(0, goal);
  const validateEvent = (p: Json): string[] => {
    const t = (p as { type?: unknown } | null)?.type;
    return typeof t === 'string' ? [] : ['an event envelope needs a string "type"'];
  };
  for (const range of ranges) {
    // The cursor may only move over a contiguous prefix of handled records.
    let cursor = range.from;
    let committed = cursor;
    let contiguous = true;
    await ctx.reader().readRange(topic, range.partition, range.from, range.until, async (batch) => {
      const sends: { messages: { key: Buffer | null; value: Buffer; headers: IHeaders }[]; topic: string }[] =
        [];
      const handled: number[] = [];
      for (const r of batch) {
        if (range.handled.has(r.offset)) {
          // Redriven by an earlier run while a record before it stayed in the DLQ.
          if (contiguous) cursor = r.offset + 1;
          continue;
        }
        if (result.selected >= limit) {
          contiguous = false;
          break;
        }
        const { payload, error } = await decodeKafka(codec, r);
        const view = kafkaView(topic, r, payload, error);
        if (!selects(view)) {
          contiguous = false;
          continue;
        }
        const d = decide(view, options, validateEvent);
        let value: Buffer | null = null;
        if (d.item.valid) {
          try {
            value =
              !d.item.changed && view.decodeError === null && r.value
                ? r.value
                : await codec.encode(d.after as unknown as EventEnvelope);
          } catch (e) {
            d.item.valid = false;
            d.item.outcome = 'invalid';
            d.item.problems.push(`schema: ${errorMessage(e)}`);
          }
        }
        if (d.item.valid && !view.destination) {
          d.item.valid = false;
          d.item.outcome = 'invalid';
          d.item.problems.push(`no ${KafkaDlqHeaders.originalTopic} header`);
        }
        record(result, d);
        if (!d.item.valid || !value || !view.destination) {
          contiguous = false;
          continue;
        }
        if (!options.execute) continue;
        await pacer.take();
        const headers: IHeaders = {};
        for (const [k, v] of Object.entries(r.headers)) if (!k.startsWith('dlq-')) headers[k] = v;
        headers[EventHeaders.eventType] = String((d.after as { type?: unknown }).type);
        headers[KafkaDlqHeaders.redriveCount] = String(view.redriveCount + 1);
        headers[KafkaDlqHeaders.auditRef] = auditRef ?? '';
        sends.push({ topic: view.destination, messages: [{ key: r.key, value, headers }] });
        addHash(result, view.id, sha256(r.value), d.item.changed ? sha256(value) : undefined);
        handled.push(r.offset);
        if (contiguous) cursor = r.offset + 1;
      }
      if (producer && sends.length > 0) {
        try {
          await sendConfirmed(producer, { acks: -1, topicMessages: sends }, ctx.partitionsOf);
          result.redriven += sends.length;
        } catch (e) {
          result.failed += sends.length;
          throw new OrderbusError('REDRIVE_PUBLISH_FAILED', `re-publish failed: ${errorMessage(e)}`, {
            hint: `orderbus dlq redrive ${topic} --execute (nothing was marked handled; it is safe to run again)`,
            cause: e,
          });
        }
        for (const o of handled) range.handled.add(o);
      }
      if (producer && (sends.length > 0 || cursor !== committed)) {
        for (const o of range.handled) if (o < cursor) range.handled.delete(o);
        await ctx
          .reader()
          .commitGroupOffsets(cursorGroup(topic), topic, [
            { partition: range.partition, offset: cursor, metadata: encodeHandled(range.handled) },
          ]);
        committed = cursor;
      }
      done += batch.length;
      options.onProgress?.(Math.min(done, goal), goal);
    });
  }
  result.remaining = outstandingCount(await kafkaOutstanding(ctx, topic));
  return result;
}

// ---------------------------------------------------------------- purge

export interface PurgeResult {
  dlq: string;
  kind: DlqKind;
  execute: boolean;
  /** What is (dry run) or was (execute) removed. */
  count: number;
  auditRef: string | null;
}

export async function purgeDlq(
  ctx: OpsContext,
  name: string,
  options: { execute?: boolean; command?: string } = {},
): Promise<PurgeResult> {
  const located = await locateDlq(ctx, name);
  const removed: { id: string; before: string }[] = [];
  let count = 0;
  if (located.kind === 'kafka') {
    const ranges = await kafkaOutstanding(ctx, name);
    count = outstandingCount(ranges);
    if (options.execute) {
      await eachKafkaDead(
        ctx,
        name,
        (m, r) => void (removed.length < ITEMS_KEPT && removed.push({ id: m.id, before: sha256(r.value) })),
      );
      await ctx.reader().commitGroupOffsets(
        cursorGroup(name),
        name,
        ranges.map((r) => ({ partition: r.partition, offset: r.until, metadata: null })),
      );
    }
  } else {
    count = await rabbitDepth(ctx, name);
    if (options.execute) {
      // Hash what is there, then take exactly those (ack) — never a blind purge of what arrives meanwhile.
      const conn = await ctx.amqp();
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        let n = 0;
        for (; n < count; n++) {
          const m = await ch.get(name, { noAck: false });
          if (!m) break;
          if (removed.length < ITEMS_KEPT)
            removed.push({ id: rabbitView(name, m, n).id, before: sha256(m.content) });
          ch.ack(m);
        }
        count = n;
      } finally {
        await ch.close().catch(() => undefined);
      }
    }
  }
  let auditRef: string | null = null;
  if (options.execute) {
    const rec = await appendAudit(ctx, {
      command: options.command ?? `dlq purge ${name}`,
      plan: { dlq: name, count },
      result: { removed: count },
      payloadHashes: removed,
    });
    auditRef = rec.id;
  }
  return { dlq: name, kind: located.kind, execute: options.execute ?? false, count, auditRef };
}

/** The exit code a redrive result deserves: partial when anything selected was left behind. */
export function redriveExitCode(r: RedriveResult): number {
  if (!r.execute) return ExitCode.ok;
  return r.failed > 0 || r.invalid > 0 ? ExitCode.partial : ExitCode.ok;
}

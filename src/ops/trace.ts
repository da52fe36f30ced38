import { partitionForKey, unknownTopic } from '../adapters/kafka.js';
import { createPool, type Pool } from '../adapters/postgres.js';
import { isNotFoundOnChannel } from '../adapters/rabbitmq.js';
import { EventCodec } from '../events/codec.js';
import { OrderbusError, usageError, errorMessage } from '../errors.js';
import type { OpsContext } from './context.js';
import { browseDlq } from './dlq/index.js';
import { committedOffsets, resolveGroups } from './lag.js';
import { listQueues } from './queues.js';

/**
 * `orderbus trace ORDER_ID`: one timeline of an order across everything — its events on the
 * key's partition of order.events, the Kafka DLQ, RabbitMQ dead letters, the database (status,
 * timeline, outbox rows and the consumers whose inbox claimed each, provider ledgers), and each
 * consumer group's position relative to its events (which groups have not yet seen which event).
 */
export interface TraceEntry {
  at: string | null;
  source: 'kafka' | 'kafka-dlq' | 'rabbitmq-dlq' | 'database' | 'provider';
  where: string;
  what: string;
  details?: Record<string, unknown>;
}

export interface GroupPosition {
  group: string;
  committed: number | null;
  /** Events of this order at or after the committed offset (not yet seen). */
  unseen: { offset: number; type: string }[];
}

/**
 * The stretch of the key's partition that was read: found by record timestamp (ListOffsets), not
 * read from the start. `basis` says where its times came from: the order's row and its last known
 * event in the database ('order'), `--since` ('since'), or the default window of a target without
 * the order's row ('default').
 */
export interface TraceWindow {
  basis: 'order' | 'since' | 'default';
  /** The window's start time (the order's placement minus a margin, --since, or 24 h ago). */
  fromTime: string;
  /** Its end time, or null: to the end of the partition. */
  untilTime: string | null;
  fromOffset: number;
  /** Exclusive. */
  untilOffset: number;
  records: number;
  partitionLow: number;
  partitionHigh: number;
  /** The command that reads more of the partition, or null when all of it was read. */
  widen: string | null;
}

/**
 * How much of one DLQ trace searched for the order's dead letters. A queue is read from its head
 * (its oldest letter), at most DEAD_LETTER_SEARCH letters; the Kafka DLQ from the order's
 * placement on (ListOffsets by timestamp), at most as many.
 */
export interface DeadLetterSearch {
  dlq: string;
  kind: 'kafka' | 'rabbitmq' | 'outbox';
  /** Letters read. */
  searched: number;
  /** Letters in the DLQ. */
  total: number;
  /** Kafka: the search began at the first letter written at or after this time. */
  since: string | null;
  /** Whether every letter that could be the order's was read (false: the cap stopped it). */
  complete: boolean;
  /** The command that searches the whole DLQ, when this search did not. */
  searchAll: string | null;
}

export interface TraceResult {
  orderId: string;
  topic: string;
  partition: number;
  status: string | null;
  entries: TraceEntry[];
  groups: GroupPosition[];
  /** Sources that could not be read (the rest of the trace is still shown). */
  unavailable: { source: string; error: string }[];
  /** Records read from the partition (= scanned.records). */
  scannedRecords: number;
  /** Which stretch of the partition was read (traceOrder always says; optional for older readers). */
  scanned?: TraceWindow;
  /** How much of each DLQ was searched for the order's dead letters (traceOrder always says). */
  deadLetterSearch?: DeadLetterSearch[];
}

export interface TraceOptions {
  /** Read from this time to the end of the partition instead of the window the order's row gives. */
  since?: Date;
  /** For tests: the current time. */
  now?: number;
}

/**
 * Clock skew between the database and the relay's host, and the relay's delay: an order's first
 * event is stamped after its row's created_at, but the hosts' clocks may disagree by a little.
 */
export const SEEK_MARGIN_MS = 5 * 60_000;
/** What a target without the order's row reads: the last day of the partition. */
export const DEFAULT_WINDOW_MS = 24 * 3_600_000;
/**
 * Dead letters trace reads at most in each DLQ. A queue cannot be read from a point in time, only
 * from its head: a deep one (tens of thousands after an outage) would be the whole wait. Past
 * the cap trace says how far it read and which command reads the rest (`dlq show --filter`).
 */
export const DEAD_LETTER_SEARCH = 10_000;

/** What the database says about when the order's events were published. */
export interface OrderTimes {
  createdAt: Date;
  /** The newest time the database has for the order (timeline, outbox created and sent). */
  lastAt: Date;
  /** Some outbox row is not sent yet: more events are still to come. */
  open: boolean;
}

/**
 * The window to read, by time (pure): --since to the end; or the order's placement minus the
 * margin to its last known event plus the margin (to the end while it has unsent outbox rows or
 * dead letters, which a redrive may publish again at any later time); or the last day.
 */
export function traceWindowTimes(
  order: OrderTimes | null,
  opts: { since?: Date; deadLetters: boolean; now: number },
): { basis: TraceWindow['basis']; from: number; until: number | null } {
  if (opts.since) return { basis: 'since', from: opts.since.getTime(), until: null };
  if (!order) return { basis: 'default', from: opts.now - DEFAULT_WINDOW_MS, until: null };
  const until = order.lastAt.getTime() + SEEK_MARGIN_MS;
  return {
    basis: 'order',
    from: order.createdAt.getTime() - SEEK_MARGIN_MS,
    until: order.open || opts.deadLetters || until >= opts.now ? null : until,
  };
}

/** One timeline entry; `details` only where the source has them (the JSON shape leaves it out otherwise). */
const entry = (
  source: TraceEntry['source'],
  where: string,
  at: Date | string | null,
  what: string,
  details?: Record<string, unknown>,
): TraceEntry => ({
  at: at instanceof Date ? at.toISOString() : at,
  source,
  where,
  what,
  ...(details ? { details } : {}),
});

/** A source this target does not have (config.components): skipped, with the key that adds it. */
const notInTarget = (source: string, key: string): TraceResult['unavailable'][number] => ({
  source,
  error: `skipped: not part of this target (set ${key} or components to include it)`,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function traceOrder(
  ctx: OpsContext,
  orderId: string,
  opts: TraceOptions = {},
): Promise<TraceResult> {
  if (!UUID.test(orderId))
    throw usageError(
      'BAD_ORDER_ID',
      `'${orderId}' is not an order id (a UUID, as returned by POST /orders)`,
      'orderbus dlq show order.events.dlq (shows order ids of failed events)',
    );
  const topic = ctx.config.topics.orderEvents;
  const admin = await ctx.admin();
  const entries: TraceEntry[] = [];
  const unavailable: TraceResult['unavailable'] = [];
  // The dead letters are read meanwhile (browsing queues can take seconds); the watermarks too.
  const dead = {
    entries: [] as TraceEntry[],
    unavailable: [] as TraceResult['unavailable'],
    searches: [] as DeadLetterSearch[],
  };
  // The Kafka DLQ is read from the order's placement on, known once the database answered.
  let placed: (at: number | undefined) => void = () => undefined;
  const placedAt = new Promise<number | undefined>((resolve) => (placed = resolve));
  // The first dead letter found, whichever DLQ: the rest of the partition is read from then on.
  let letterFound: () => void = () => undefined;
  const firstLetter = new Promise<true>((resolve) => (letterFound = () => resolve(true)));
  const deadLetters = deadLetterEntries(ctx, orderId, dead, placedAt, letterFound);
  const marksRead = admin.fetchTopicOffsets(topic).catch((e: unknown) => {
    // kafkajs asks for the topic's metadata first: a missing topic is this, not a driver error.
    if (unknownTopic(e))
      throw new OrderbusError('UNKNOWN_TOPIC', `topic '${topic}' does not exist on this cluster`, {
        hint: 'orderbus config (topics.orderEvents names the order events topic of the target)',
      });
    throw e;
  });
  // Handled where awaited; these keep a failure meanwhile from being an unhandled rejection.
  deadLetters.catch(() => undefined);
  marksRead.catch(() => undefined);
  // The database first (an operations-only target has none): the order's row says where on the
  // partition its events are.
  let status: string | null = null;
  let times: OrderTimes | null = null;
  const dbUnavailable: TraceResult['unavailable'] = [];
  if (!ctx.config.components.includes('postgres'))
    dbUnavailable.push(notInTarget('postgres', 'database.url'));
  else {
    const pool = createPool(ctx.config, { max: 1 });
    ({ status, times } = await databaseTimeline(pool, orderId, entries, dbUnavailable));
    await pool.end().catch(() => undefined);
  }
  placed(opts.since?.getTime() ?? (times ? times.createdAt.getTime() - SEEK_MARGIN_MS : undefined));
  const now = opts.now ?? Date.now();
  const since = opts.since ? { since: opts.since } : {};
  let window = traceWindowTimes(times, { ...since, deadLetters: false, now });
  const marks = await marksRead;
  const partition = partitionForKey(orderId, marks.length);
  const mark = marks.find((m) => m.partition === partition);
  const low = Number(mark?.low ?? 0);
  const high = Number(mark?.high ?? 0);
  // ListOffsets by timestamp: the first offset stamped at or after the time (the high watermark
  // when none is). Records are appended in time order per partition, near enough for the margins.
  const offsetAt = async (time: number): Promise<number> => {
    const at = await admin.fetchTopicOffsetsByTimestamp(topic, time);
    const o = Number(at.find((x) => x.partition === partition)?.offset ?? high);
    return Math.min(high, Math.max(low, o));
  };
  const [fromOffset, endOffset] = await Promise.all([
    offsetAt(window.from),
    window.until === null ? high : offsetAt(window.until),
  ]);
  let untilOffset = endOffset;
  // The scan, the groups' positions and the dead letters at once.
  const windowScan = scanPartition(ctx, topic, partition, orderId, fromOffset, untilOffset);
  // A dead letter may have been redriven (published again) at any time since: the rest of the
  // partition is read too, after the window and as soon as one DLQ has a letter of the order (a
  // deep RabbitMQ DLQ's search goes on for seconds after the letter that decides it).
  const restScan =
    window.until === null
      ? Promise.resolve(null)
      : windowScan
          .then(() => Promise.race([firstLetter, deadLetters]))
          .then((found) => (found ? scanPartition(ctx, topic, partition, orderId, untilOffset, high) : null));
  const [scan, positions, , rest] = await Promise.all([
    windowScan,
    groupCommits(ctx, topic, partition),
    deadLetters,
    restScan,
  ]);
  if (rest) {
    scan.entries.push(...rest.entries);
    scan.events.push(...rest.events);
    scan.records += rest.records;
    untilOffset = high;
    window = traceWindowTimes(times, { ...since, deadLetters: true, now });
  }
  unavailable.push(...dead.unavailable, ...dbUnavailable);
  entries.push(...dead.entries, ...scan.entries);
  const groups: GroupPosition[] = positions.map(({ group, committed }) => ({
    group,
    committed,
    unseen: scan.events.filter((e) => e.offset >= committed),
  }));
  entries.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  const all = fromOffset <= low && untilOffset >= high;
  const scanned: TraceWindow = {
    basis: window.basis,
    fromTime: new Date(window.from).toISOString(),
    untilTime: window.until === null ? null : new Date(window.until).toISOString(),
    fromOffset,
    untilOffset,
    records: scan.records,
    partitionLow: low,
    partitionHigh: high,
    widen: all ? null : `orderbus trace ${orderId} --since ${widerSince(window.from)}`,
  };
  return {
    orderId,
    topic,
    partition,
    status,
    entries,
    groups,
    unavailable,
    scannedRecords: scan.records,
    scanned,
    deadLetterSearch: dead.searches.sort((a, b) => a.dlq.localeCompare(b.dlq)),
  };
}

/** A --since a week before `from` (a whole ISO time: the hint works whenever it is run). */
const widerSince = (from: number): string =>
  new Date(from - 7 * DEFAULT_WINDOW_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The order's records in [from, until) of its partition, decoded. */
async function scanPartition(
  ctx: OpsContext,
  topic: string,
  partition: number,
  orderId: string,
  from: number,
  until: number,
): Promise<{ entries: TraceEntry[]; events: { offset: number; type: string }[]; records: number }> {
  const entries: TraceEntry[] = [];
  const events: { offset: number; type: string }[] = [];
  const codec = EventCodec.fromConfig(ctx.config, topic);
  const keyBuf = Buffer.from(orderId);
  let records = 0;
  if (from >= until) return { entries, events, records };
  await ctx.reader().readRange(
    topic,
    partition,
    from,
    until,
    async (batch) => {
      records += batch.length;
      for (const r of batch) {
        if (!r.key || !r.key.equals(keyBuf)) continue;
        let type = r.headers['event-type'] ?? 'unknown';
        let details: Record<string, unknown> = { offset: r.offset, headers: r.headers };
        try {
          const e = await codec.decode(r.value);
          type = e.type;
          details = { ...details, eventId: e.eventId, source: e.source, data: e.data };
        } catch (e) {
          details.decodeError = errorMessage(e);
        }
        events.push({ offset: r.offset, type });
        entries.push(
          entry('kafka', `${topic}/${partition}@${r.offset}`, new Date(r.timestamp), type, details),
        );
      }
    },
    { maxBytes: 8 * 1024 * 1024 },
  );
  return { entries, events, records };
}

/** Each consumer group's committed offset on the partition (groups without one left out), by name. */
async function groupCommits(
  ctx: OpsContext,
  topic: string,
  partition: number,
): Promise<{ group: string; committed: number }[]> {
  const ids = (await resolveGroups(ctx, undefined)).map((g) => g.groupId);
  const committed = await committedOffsets(await ctx.admin(), ids, [topic]);
  return ids.flatMap((group, i) => {
    const p = committed[i]?.[0]?.partitions.find((x) => x.partition === partition);
    return p && Number(p.offset) >= 0 ? [{ group, committed: Number(p.offset) }] : [];
  });
}

/**
 * The order's dead letters (Kafka's DLQ, RabbitMQ's) into `into.entries`, every DLQ at once,
 * each search bounded (DEAD_LETTER_SEARCH) and recorded in `into.searches`; true when there are any.
 */
async function deadLetterEntries(
  ctx: OpsContext,
  orderId: string,
  into: { entries: TraceEntry[]; unavailable: TraceResult['unavailable']; searches: DeadLetterSearch[] },
  placedAt: Promise<number | undefined>,
  onFound: () => void,
): Promise<boolean> {
  const kafkaDlq = ctx.config.topics.orderEventsDlq;
  // The queues listed here are RabbitMQ's: browsed without asking every source for its DLQs.
  const dlqs: { name: string; kind?: 'rabbitmq' }[] = [{ name: kafkaDlq }];
  if (!ctx.config.components.includes('rabbitmq'))
    into.unavailable.push(notInTarget('rabbitmq', 'rabbitmq.url'));
  else
    try {
      // The queues' browses share one AMQP connection: opened while the management API lists
      // them, not after (its handshake's round trips would wait behind the partition's decoding).
      ctx.amqp().catch(() => undefined);
      for (const q of await listQueues(ctx))
        if (q.role === 'dlq') dlqs.push({ name: q.name, kind: 'rabbitmq' });
    } catch (e) {
      into.unavailable.push({ source: 'rabbitmq', error: errorMessage(e) });
    }
  const filter = `orderId=${orderId}`;
  const found = await Promise.all(
    dlqs.map(async ({ name, kind }) => {
      try {
        const at = name === kafkaDlq ? await placedAt : undefined;
        const r = await browseDlq(ctx, name, {
          filter,
          needle: orderId,
          onMessage: onFound,
          limit: 100,
          maxRead: DEAD_LETTER_SEARCH,
          ...(kind ? { kind } : {}),
          ...(at !== undefined ? { since: new Date(at) } : {}),
        });
        const complete = r.stopped !== 'max-read';
        into.searches.push({
          dlq: name,
          kind: r.kind,
          searched: r.read,
          total: r.count,
          since: at !== undefined ? new Date(at).toISOString() : null,
          complete,
          searchAll: complete ? null : `orderbus dlq show ${name} --filter '${filter}'`,
        });
        for (const m of r.messages)
          into.entries.push(
            entry(
              m.kind === 'kafka' ? 'kafka-dlq' : 'rabbitmq-dlq',
              `${name} ${m.id}`,
              m.lastFailureAt,
              `dead letter: ${m.errorClass ?? 'unknown'}${m.statusCode !== null ? ` (${m.statusCode})` : ''}`,
              { errorMessage: m.errorMessage, attempts: m.attempts, destination: m.destination },
            ),
          );
        return r.messages.length > 0;
      } catch (e) {
        // A queue deleted since it was listed holds no letter of this order: not a source that
        // could not be read.
        if (kind === 'rabbitmq' && isNotFoundOnChannel(e)) return false;
        into.unavailable.push({ source: name, error: errorMessage(e) });
        return false;
      }
    }),
  );
  return found.some(Boolean);
}

/**
 * The database's part of the trace, appended to `entries` query by query (a later query failing
 * keeps what the earlier ones found): the order row, its timeline, the outbox (was each event
 * published?) with the consumers whose inboxes claimed it — where an order stopped when its
 * events are not all on the topic — and the providers' ledgers. Returns the order's status (null
 * without an order row, or when the database could not be read: `unavailable` then says why).
 */
async function databaseTimeline(
  pool: Pool,
  orderId: string,
  entries: TraceEntry[],
  unavailable: TraceResult['unavailable'],
): Promise<{ status: string | null; times: OrderTimes | null }> {
  const rows = async <R extends Record<string, unknown>>(sql: string): Promise<R[]> =>
    (await pool.query<R>(sql, [orderId])).rows;
  let status: string | null = null;
  let times: OrderTimes | null = null;
  try {
    const [order] = await rows<{ status: string; created_at: Date }>(
      'SELECT status, created_at, updated_at FROM orders WHERE id = $1',
    );
    status = order?.status ?? null;
    if (order) {
      entries.push(entry('database', 'orders', order.created_at, 'order row created'));
      times = { createdAt: order.created_at, lastAt: order.created_at, open: false };
    }
    const seen = (at: Date | null) => {
      if (times && at && at > times.lastAt) times.lastAt = at;
    };
    const timeline = await rows<{ type: string; source: string; recorded_at: Date }>(
      'SELECT type, source, occurred_at, recorded_at FROM order_timeline WHERE order_id = $1 ORDER BY occurred_at',
    );
    for (const r of timeline) seen(r.recorded_at);
    for (const r of timeline)
      entries.push(
        entry('database', 'order_timeline', r.recorded_at, `${r.type} applied (from ${r.source})`),
      );
    const outbox = await rows<{
      event_id: string;
      type: string;
      created_at: Date;
      sent_at: Date | null;
      claimed: string[] | null;
    }>(
      `SELECT o.event_id, o.type, o.created_at, o.sent_at,
              (SELECT array_agg(i.consumer ORDER BY i.consumer) FROM inbox i WHERE i.event_id = o.event_id) AS claimed
       FROM outbox o WHERE o.order_id = $1 ORDER BY o.id`,
    );
    for (const r of outbox) {
      seen(r.created_at);
      seen(r.sent_at);
      if (times && !r.sent_at) times.open = true;
    }
    for (const r of outbox)
      entries.push(
        entry(
          'database',
          'outbox',
          r.created_at,
          `${r.type} ${r.sent_at ? `sent ${r.sent_at.toISOString()}` : 'not sent yet'}; handled by ${r.claimed?.join(', ') || 'no consumer yet'}`,
          {
            type: r.type,
            eventId: r.event_id,
            sentAt: r.sent_at?.toISOString() ?? null,
            handledBy: r.claimed ?? [],
          },
        ),
      );
    const ledger = await rows<{ provider: string; kind: string; idempotency_key: string; at: Date }>(
      'SELECT provider, kind, idempotency_key, at FROM provider_ledger WHERE order_id = $1 ORDER BY at',
    );
    for (const r of ledger)
      entries.push(entry('provider', r.provider, r.at, `${r.kind} (key ${r.idempotency_key})`));
  } catch (e) {
    unavailable.push({ source: 'postgres', error: errorMessage(e) });
    // Its last event is not known: read on to the end of the partition.
    if (times) times.open = true;
  }
  return { status, times };
}

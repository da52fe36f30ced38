import type { Consumer, EachMessagePayload, IHeaders, KafkaMessage } from 'kafkajs';
import { RecoveringProducer, idempotentProducer, kafkaClient, topicPartitions } from '../adapters/kafka.js';
import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import { EventCodec, EventDecodeError } from '../events/codec.js';
import { isOrderbusError } from '../errors.js';
import { EventHeaders, KafkaDlqHeaders, type EventEnvelope, type EventType } from '../events/types.js';
import { retry, type BackoffPolicy } from '../retry.js';
import type { Service, ServiceContext } from '../runtime/service.js';
import { GroupCommit } from './group-commit.js';
import { heartbeatingWhile, lostMembership } from './group-membership.js';
import { isTransientDbError } from './outbox.js';

/**
 * The pipeline's Kafka consumer: decode and validate, skip types the service does not handle
 * (by header, without decoding), retry within a budget with backoff, and send what cannot be
 * processed to the DLQ topic with its failure context, then move on. A record is committed only
 * after it was handled or dead-lettered (confirmed by the broker), so nothing is lost; handlers
 * are idempotent by eventId. Transient failures (a provider that is down) are retried without
 * limit instead: the work waits, it is not dead-lettered.
 */
export interface RecordMeta {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  heartbeat: () => Promise<void>;
}

export interface EventConsumerOptions {
  name: string;
  groupId: string;
  types?: EventType[];
  handle?: (event: EventEnvelope, meta: RecordMeta) => Promise<void>;
  /**
   * Batch mode (eachBatch): the handler gets every decodable event of a fetched batch (one
   * partition) at once. It must keep each order's events in order (`forEachOrder` does) and be
   * idempotent by eventId; the batch's offsets are committed only after it returned.
   */
  handleBatch?: (events: EventEnvelope[], heartbeat: () => Promise<void>) => Promise<void>;
  /**
   * Batch mode: retry a failed batch in place (transient failures without limit, others
   * `attempts` times), then handle its events one at a time, so only a record that keeps failing
   * goes to the DLQ. Without it a failed batch is left to kafkajs (refetched after a restart).
   */
  retryBatches?: boolean;
  /**
   * Batch mode, for a handler that only writes to the database: the batches of different
   * partitions that arrive while one is being handled are handled together, in one call (one
   * transaction) — with a dozen partitions a fetch held a batch of one or two events per
   * partition, and each paid a transaction of its own. Each partition's offsets still wait for
   * the call that held its events. A merged call that fails is tried again one partition's batch
   * at a time (unless the membership was lost), so a poison record, or an order whose call out
   * keeps failing, holds up only its own partition. Not for a handler that mostly calls out: a
   * slow call holds every partition merged with it.
   */
  mergePartitions?: boolean;
  /**
   * Batch mode with `retryBatches`: handled offsets are committed at most this often (and once
   * more before a stop), not after every batch as kafkajs' auto-commit does — with a dozen
   * partitions that was a commit per partition per fetch, about four per order. A crash or
   * rebalance redelivers at most this much work already done; handlers are idempotent. Default
   * 250 ms.
   */
  commitIntervalMs?: number;
  /** TEST-ONLY (batch mode): commit the batch before handling it — the bug chaos drills must catch. */
  unsafeCommitBeforeHandle?: boolean;
  /** Attempts for non-transient failures before the DLQ. */
  attempts?: number;
  /** Pauses between attempts; default `CONSUMER_RETRY`. */
  backoff?: BackoffPolicy;
  partitionsConsumedConcurrently?: number;
  /** Errors for which retrying until it works is right (a provider outage). */
  isTransient?: (e: unknown) => boolean;
  fromBeginning?: boolean;
}

/** One partition's events of a fetch, as handed to a merged handler call. */
interface PartitionBatch {
  events: EventEnvelope[];
  heartbeat: () => Promise<void>;
}

/** A pipeline service on one consumer group (tests pass a group of their own). */
export type ConsumerService = (
  config: OrderbusConfig,
  pool: Pool,
  ctx: Pick<ServiceContext, 'log'>,
  groupId?: string,
) => EventConsumer;

/** How long after a crash kafkajs will not recover from the consumer is started again. */
export const RESTART_AFTER_MS = 5000;

/**
 * Pauses between a handler's attempts: 200 ms doubling to 5 s, so a provider outage is retried
 * every 5 s; ±20 % so the partitions of a process do not all retry at the same instant.
 */
export const CONSUMER_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 5000, jitter: 0.2 };

export class EventConsumer implements Service {
  readonly name: string;
  private consumer: Consumer | undefined;
  private dlqProducer: RecoveringProducer | undefined;
  private partitions: ReturnType<typeof topicPartitions> | undefined;
  private stopping = false;
  /** Batch mode: commits every resolved offset not yet committed (kafkajs' current generation). */
  private commitResolved: (() => Promise<void>) | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  /** Batch mode with `mergePartitions`: the handler's calls, grouped across partitions. */
  private readonly merged: GroupCommit<PartitionBatch> | undefined;
  handled = 0;
  deadLettered = 0;

  constructor(
    private readonly config: OrderbusConfig,
    private readonly ctx: Pick<ServiceContext, 'log'>,
    private readonly options: EventConsumerOptions,
    private readonly codec: EventCodec = EventCodec.fromConfig(config),
  ) {
    this.name = options.name;
    const handleBatch = options.handleBatch;
    if (handleBatch && options.mergePartitions)
      this.merged = new GroupCommit<PartitionBatch>(
        (parts) =>
          handleBatch(
            parts.flatMap((b) => b.events),
            (parts[0] as PartitionBatch).heartbeat,
          ),
        { retryAlone: (e) => !lostMembership(e) },
      );
  }

  /** The handler on one partition's batch: merged with other partitions' when so configured. */
  private handleEvents(events: EventEnvelope[], heartbeat: () => Promise<void>): Promise<void> {
    if (this.merged) return this.merged.add({ events, heartbeat });
    return (this.options.handleBatch as NonNullable<EventConsumerOptions['handleBatch']>)(events, heartbeat);
  }

  private get heartbeatIntervalMs(): number {
    return Math.min(3000, Math.floor(this.config.kafka.sessionTimeoutMs / 3));
  }

  /** The group id as the broker knows it (with the configured prefix). */
  get groupId(): string {
    return `${this.config.kafka.groupPrefix}${this.options.groupId}`;
  }

  async start(): Promise<void> {
    const kafka = kafkaClient(this.config, `${this.config.kafka.clientId}-${this.options.name}`);
    this.partitions = topicPartitions(kafka);
    this.dlqProducer = new RecoveringProducer(
      () => idempotentProducer(kafka),
      this.partitions,
      (missing) =>
        this.ctx.log('consumer.dlq-partitions-resent', { group: this.groupId, partitions: missing }),
    );
    await this.dlqProducer.connect();
    await this.runConsumer(kafka);
  }

  /**
   * Joins the group and consumes. kafkajs restarts a consumer that crashed on an error it deems
   * retriable; on any other (a TypeError in a handler) it leaves the group for good while the
   * process lives on and the lag grows. Every crash is logged (`consumer.crashed`), and one that
   * kafkajs will not restart is restarted here, with a fresh consumer, after `RESTART_AFTER_MS`.
   */
  private async runConsumer(kafka: ReturnType<typeof kafkaClient>): Promise<void> {
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.config.kafka.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.ctx.log('consumer.crashed', {
        group: this.groupId,
        error: `${payload.error.name}: ${payload.error.message}`,
        restartedBy: payload.restart ? 'kafkajs' : 'orderbus',
      });
      if (!payload.restart)
        setTimeout(() => void this.restartConsumer(kafka, consumer), RESTART_AFTER_MS).unref();
    });
    await consumer.connect();
    await consumer.subscribe({
      topic: this.config.topics.orderEvents,
      fromBeginning: this.options.fromBeginning ?? true,
    });
    const concurrency = this.options.partitionsConsumedConcurrently ?? 3;
    if (this.options.handleBatch) {
      const retry = this.options.retryBatches ?? false;
      const commitIntervalMs = this.options.commitIntervalMs ?? 250;
      // With retries (the batch never throws while the work waits): offsets are resolved after
      // handling (that also moves the fetch position) and committed by interval — in a batch once
      // the interval has passed, and by the timer below for the last batches before a pause.
      // kafkajs' offset bookkeeping is per generation, so a commit after a rebalance covers only
      // partitions this member still holds. Without retries a failing batch throws and kafkajs
      // restarts the consumer; those consumers keep kafkajs' commit after every batch.
      const byInterval = retry;
      await consumer.run({
        partitionsConsumedConcurrently: concurrency,
        eachBatchAutoResolve: false,
        ...(byInterval ? { autoCommit: false, autoCommitInterval: commitIntervalMs } : {}),
        // The group hears a heartbeat every interval while a batch is in hand, however long
        // one call of it takes.
        eachBatch: (payload) =>
          heartbeatingWhile(payload.heartbeat, this.heartbeatIntervalMs, async () => {
            const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets } = payload;
            if (byInterval) {
              // Taken from every batch: kafkajs replaces its group after a crash-restart.
              this.commitResolved = () => commitOffsetsIfNecessary(uncommittedOffsets());
              this.commitTimer ??= setInterval(
                () =>
                  void this.commitResolved?.().catch((e: unknown) =>
                    this.ctx.log('consumer.commit-failed', { group: this.groupId, error: String(e) }),
                  ),
                commitIntervalMs,
              );
            }
            const events: EventEnvelope[] = [];
            const sources = new Map<EventEnvelope, KafkaMessage>();
            for (const message of batch.messages) {
              const typeHeader = header(message.headers, EventHeaders.eventType);
              if (this.options.types && typeHeader && !this.options.types.includes(typeHeader as EventType))
                continue;
              try {
                const e = await this.decode(message.value, heartbeat, { partition: batch.partition });
                if (!this.options.types || this.options.types.includes(e.type)) {
                  events.push(e);
                  sources.set(e, message);
                }
              } catch (e) {
                if (!(e instanceof EventDecodeError)) throw e;
                const meta = {
                  topic: batch.topic,
                  partition: batch.partition,
                  offset: message.offset,
                  timestamp: message.timestamp,
                  heartbeat,
                };
                await this.deadLetter(meta, message, e.errorClass, e.message, 1, Date.now());
              }
            }
            const last = batch.messages[batch.messages.length - 1];
            if (this.options.unsafeCommitBeforeHandle && last) {
              resolveOffset(last.offset);
              await commitOffsetsIfNecessary(uncommittedOffsets());
            }
            if (events.length > 0 && retry)
              await this.handleWithRetry(events, batch.topic, batch.partition, sources, heartbeat);
            else if (events.length > 0) {
              // The database away is waited out here, heartbeating, rather than crashing the consumer.
              await this.retrying(
                heartbeat,
                { partition: batch.partition, events: events.length },
                () => this.handleEvents(events, heartbeat),
                { attempts: 1, transient: isTransientDbError },
              );
              this.handled += events.length;
            }
            if (last) resolveOffset(last.offset);
            await commitOffsetsIfNecessary();
            await heartbeat();
          }),
      });
      return;
    }
    await consumer.run({
      partitionsConsumedConcurrently: concurrency,
      eachMessage: (p) => heartbeatingWhile(p.heartbeat, this.heartbeatIntervalMs, () => this.onMessage(p)),
    });
  }

  private async restartConsumer(kafka: ReturnType<typeof kafkaClient>, crashed: Consumer): Promise<void> {
    if (this.stopping || this.consumer !== crashed) return;
    // The crashed group's commit function would commit nothing (its member left the group).
    this.commitResolved = undefined;
    await crashed.disconnect().catch(() => undefined);
    try {
      await this.runConsumer(kafka);
      this.ctx.log('consumer.restarted', { group: this.groupId });
    } catch (e) {
      this.ctx.log('consumer.restart-failed', { group: this.groupId, error: String(e) });
      if (!this.stopping)
        setTimeout(
          () => void this.restartConsumer(kafka, this.consumer ?? crashed),
          RESTART_AFTER_MS,
        ).unref();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.commitTimer) clearInterval(this.commitTimer);
    // What was handled since the last commit, while the consumer still runs (a batch that
    // finishes during the disconnect is redelivered after a restart).
    await this.commitResolved?.().catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.dlqProducer?.disconnect().catch(() => undefined);
    await this.partitions?.close();
  }

  private async onMessage({ topic, partition, message, heartbeat }: EachMessagePayload): Promise<void> {
    const typeHeader = header(message.headers, EventHeaders.eventType);
    if (this.options.types && typeHeader && !this.options.types.includes(typeHeader as EventType)) return;
    const meta: RecordMeta = {
      topic,
      partition,
      offset: message.offset,
      timestamp: message.timestamp,
      heartbeat,
    };
    let event: EventEnvelope;
    try {
      event = await this.decode(message.value, heartbeat, { partition });
    } catch (e) {
      if (e instanceof EventDecodeError)
        return this.deadLetter(meta, message, e.errorClass, e.message, 1, Date.now());
      throw e; // the consumer is stopping while the registry is away: kafkajs redelivers it
    }
    if (this.options.types && !this.options.types.includes(event.type)) return;
    await this.withRetry(event, meta, message, () => this.options.handle?.(event, meta));
  }

  /** Transient failures retry without limit, others `attempts` times, then the record goes to the DLQ. */
  private async withRetry(
    event: EventEnvelope,
    meta: RecordMeta,
    message: KafkaMessage,
    fn: () => Promise<void> | undefined,
  ): Promise<void> {
    const firstFailure = Date.now();
    let attempts = 0;
    try {
      await this.retrying(meta.heartbeat, { orderId: event.orderId }, async (attempt) => {
        attempts = attempt;
        await fn();
      });
      this.handled++;
    } catch (e) {
      // Left uncommitted: redelivered after a restart, or to the partition's next owner.
      if (this.stopping || lostMembership(e)) throw e;
      const cls = (e as { errorClass?: string }).errorClass ?? (e instanceof Error ? e.name : 'Error');
      const text = e instanceof Error ? e.message : String(e);
      await this.deadLetter(meta, message, cls, text, attempts, firstFailure);
    }
  }

  /**
   * Batch mode with retries: the whole batch first (transient failures until they pass, others
   * `attempts` times); if it keeps failing, one event at a time in the batch's order, so a poison
   * record is dead-lettered and the others are handled (the handler is idempotent by eventId, so
   * the events an aborted attempt already handled change nothing the second time).
   */
  private async handleWithRetry(
    events: EventEnvelope[],
    topic: string,
    partition: number,
    sources: Map<EventEnvelope, KafkaMessage>,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const handleBatch = this.options.handleBatch;
    if (!handleBatch) return;
    try {
      await this.retrying(heartbeat, { partition, events: events.length }, () =>
        this.handleEvents(events, heartbeat),
      );
      this.handled += events.length;
      return;
    } catch (e) {
      if (this.stopping || lostMembership(e)) throw e;
    }
    for (const event of events) {
      const message = sources.get(event);
      if (!message) continue;
      const meta = { topic, partition, offset: message.offset, timestamp: message.timestamp, heartbeat };
      await this.withRetry(event, meta, message, () => handleBatch([event], heartbeat));
    }
  }

  /**
   * Runs `fn` until it works, a non-transient failure has used up `attempts`, or the consumer
   * stops (then the last error is thrown). The group hears a heartbeat before each retry.
   */
  private retrying(
    heartbeat: () => Promise<void>,
    at: Record<string, unknown>,
    fn: (attempt: number) => Promise<void>,
    policy: { attempts?: number; transient?: (e: unknown) => boolean } = {},
  ): Promise<void> {
    const attempts = policy.attempts ?? this.options.attempts ?? 3;
    const isTransient = policy.transient ?? ((e: unknown) => this.isTransient(e));
    return retry(
      async (attempt) => {
        if (attempt > 1) await heartbeat().catch(() => undefined);
        await fn(attempt);
      },
      this.options.backoff ?? CONSUMER_RETRY,
      {
        retriable: (e, attempt) => !lostMembership(e) && (isTransient(e) || attempt < attempts),
        stop: () => this.stopping,
        onRetry: ({ attempt, error }) => {
          if (attempt === 1 || attempt % 10 === 0)
            this.ctx.log('consumer.retry', {
              group: this.groupId,
              ...at,
              attempt,
              transient: isTransient(error),
              error: error instanceof Error ? error.message : String(error),
            });
        },
      },
    );
  }

  /**
   * Decodes a record. A registry that is away is not the record's fault: it is waited for here
   * (backoff, heartbeats, offsets not committed) rather than by crashing the kafkajs consumer,
   * whose restart rejoins the group and kept work waiting long after the registry was back.
   */
  private async decode(
    value: Buffer | null,
    heartbeat: () => Promise<void>,
    at: Record<string, unknown>,
  ): Promise<EventEnvelope> {
    let event: EventEnvelope | undefined;
    await this.retrying(heartbeat, at, async () => void (event = await this.codec.decode(value)), {
      attempts: 1,
      transient: (e) => isOrderbusError(e) && e.code === 'REGISTRY_UNREACHABLE',
    });
    if (!event) throw new EventDecodeError('UndecodableRecord', 'decoded to nothing');
    return event;
  }

  private isTransient(e: unknown): boolean {
    return isTransientDbError(e) || (this.options.isTransient?.(e) ?? false);
  }

  private async deadLetter(
    meta: RecordMeta,
    message: KafkaMessage,
    errorClass: string,
    errorMessage: string,
    attempts: number,
    firstFailure: number,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.dlqProducer?.send({
      topic: this.config.topics.orderEventsDlq,
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...(message.headers ?? {}),
            [KafkaDlqHeaders.originalTopic]: meta.topic,
            [KafkaDlqHeaders.originalPartition]: String(meta.partition),
            [KafkaDlqHeaders.originalOffset]: meta.offset,
            [KafkaDlqHeaders.originalTimestamp]: meta.timestamp,
            [KafkaDlqHeaders.consumerGroup]: this.groupId,
            [KafkaDlqHeaders.errorClass]: errorClass,
            [KafkaDlqHeaders.errorMessage]: errorMessage.slice(0, 1000),
            [KafkaDlqHeaders.attempts]: String(attempts),
            [KafkaDlqHeaders.firstFailureAt]: new Date(firstFailure).toISOString(),
            [KafkaDlqHeaders.lastFailureAt]: now,
          },
        },
      ],
    });
    this.deadLettered++;
    this.ctx.log('consumer.dead-lettered', {
      group: this.groupId,
      partition: meta.partition,
      offset: meta.offset,
      errorClass,
    });
  }
}

export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

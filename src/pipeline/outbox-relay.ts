import type { PoolClient } from '../adapters/postgres.js';
import { RecoveringProducer, idempotentProducer, kafkaClient, topicPartitions } from '../adapters/kafka.js';
import { errorMessage } from '../errors.js';
import { backoffDelay, pause, retry, type BackoffPolicy } from '../retry.js';
import { EventCodec, EventDecodeError, eventHeaders, registryFailure } from '../events/codec.js';
import type { EventEnvelope } from '../events/types.js';
import { PooledService } from '../runtime/service.js';
import { OUTBOX_SHARDS } from './outbox.js';

/** Pauses after a failed poll (the database or Kafka away): 250 ms doubling to 5 s. */
export const RELAY_RETRY: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

/** Pauses before each new LISTEN connection after one broke: 250 ms doubling to 5 s. */
export const RELAY_RELISTEN: BackoffPolicy = { initialMs: 250, maxMs: 5000, jitter: 0.2 };

/**
 * Publishes outbox rows to Kafka in batches (idempotent producer, acks=all) and marks them sent
 * only after the broker acknowledged. Each relay owns shards through session advisory locks, so
 * with several relays an order's events are still published by one relay, in order; a relay that
 * dies releases its locks with its connection and the others take its shards over. Wakes on
 * LISTEN/NOTIFY, polls as the fallback (and meanwhile, when the LISTEN connection broke). Killed anywhere, it resends at most a batch (duplicates
 * are absorbed downstream by eventId).
 */
/** How many rows a relay takes at once, how often it polls, and its advisory-lock namespace. */
export interface OutboxRelayOptions {
  batchSize?: number;
  pollMs?: number;
  lockNamespace?: string;
}

export class OutboxRelay extends PooledService<OutboxRelayOptions> {
  readonly name = 'outbox-relay';
  private producer: RecoveringProducer | undefined;
  private partitions: ReturnType<typeof topicPartitions> | undefined;
  private listener: PoolClient | undefined;
  private readonly owned = new Set<number>();
  private stopped = false;
  private readonly stopping = new AbortController();
  private wake: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;
  private relistening: Promise<void> | undefined;
  published = 0;

  async start(): Promise<void> {
    const codec = EventCodec.fromConfig(this.config);
    await codec.register();
    const kafka = kafkaClient(this.config, `${this.config.kafka.clientId}-relay`);
    this.partitions = topicPartitions(kafka);
    this.producer = new RecoveringProducer(
      () => idempotentProducer(kafka),
      this.partitions,
      (missing) => this.ctx.log('relay.partitions-resent', { partitions: missing }),
    );
    await this.producer.connect();
    await this.listen();
    this.loop = this.run(codec);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.wake?.();
    await this.loop?.catch(() => undefined);
    await this.relistening?.catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.partitions?.close();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      await listener.query('UNLISTEN *').catch(() => undefined);
      await listener.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      listener.release();
    }
  }

  /**
   * The LISTEN connection, which also holds the shard locks. When it breaks (a database restart,
   * a terminated backend, a cut) its locks are gone with it: the relay gives up its shards at once
   * (another relay may take them), keeps polling, and connects again with backoff.
   */
  private async listen(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', () => {
      // Remembered while a batch is being published, so rows committed meanwhile do not wait for the poll.
      this.woken = true;
      this.wake?.();
    });
    client.on('error', (e: unknown) => this.listenerLost(client, e));
    client.on('end', () => this.listenerLost(client, new Error('the LISTEN connection ended')));
    try {
      await client.query('LISTEN orderbus_outbox');
    } catch (e) {
      client.release(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    this.listener = client;
    // A failure here is the poll's to retry (every 2 s); a broken connection comes back as 'error'.
    await this.acquireShards().catch(() => undefined);
  }

  private listenerLost(client: PoolClient, e: unknown): void {
    if (this.listener !== client || this.stopped) return;
    this.listener = undefined;
    this.owned.clear();
    client.release(e instanceof Error ? e : new Error(String(e)));
    this.ctx.log('relay.listener-lost', { error: errorMessage(e) });
    this.relistening = retry(() => this.listen(), RELAY_RELISTEN, {
      delayFirst: true,
      retriable: () => true,
      signal: this.stopping.signal,
      onRetry: ({ attempt, error }) => {
        if (attempt % 10 === 1)
          this.ctx.log('relay.relisten-failed', { attempt, error: errorMessage(error) });
      },
    }).then(
      () => this.ctx.log('relay.listening-again', { shards: this.owned.size }),
      () => undefined,
    );
  }

  private lockKey(shard: number): string {
    return `${this.options.lockNamespace ?? this.config.database.schema}/outbox-shard/${shard}`;
  }

  private async acquireShards(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
      if (this.owned.has(shard)) continue;
      const r = await listener.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
        this.lockKey(shard),
      ]);
      // The connection may have broken meanwhile: the lock went with it.
      if (r.rows[0]?.ok && this.listener === listener) this.owned.add(shard);
    }
  }

  private async run(codec: EventCodec): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    const pollMs = this.options.pollMs ?? 500;
    let lastAcquire = Date.now();
    let failures = 0;
    while (!this.stopped) {
      let sent = 0;
      this.woken = false;
      try {
        if (Date.now() - lastAcquire > 2000) {
          await this.acquireShards();
          lastAcquire = Date.now();
        }
        sent = await this.publishBatch(codec, batchSize);
        failures = 0;
      } catch (e) {
        failures++;
        this.ctx.log('relay.error', {
          error: errorMessage(e),
          producerReplaced: this.producer?.replaced ?? 0,
        });
        await pause(backoffDelay(failures, RELAY_RETRY), this.stopping.signal);
        continue;
      }
      if (sent < batchSize && !this.stopped && !this.woken) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  private async publishBatch(codec: EventCodec, batchSize: number): Promise<number> {
    if (this.owned.size === 0 || !this.producer) return 0;
    const { rows } = await this.pool.query<{ id: string; envelope: EventEnvelope }>(
      `SELECT id, envelope FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL AND shard = ANY($1)
       ORDER BY id LIMIT $2`,
      [[...this.owned], batchSize],
    );
    if (rows.length === 0) return 0;
    const encoded = await Promise.all(rows.map((r) => this.encodeOrPark(codec, r)));
    const messages = encoded.filter((m) => m !== undefined);
    // One send: kafkajs keeps the order within each partition, so an order's events stay in order.
    if (messages.length > 0)
      await this.producer.send({ topic: this.config.topics.orderEvents, acks: -1, messages });
    // Marking rows sent need not wait for the WAL flush: if a PostgreSQL crash lost the mark,
    // the rows would be sent again and the consumers' inboxes drop the copies (as after a relay
    // killed between send and mark). It saves a flush per poll that every commit queued behind.
    await this.pool.query(
      `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
       UPDATE outbox SET sent_at = now() FROM async WHERE id = ANY($1::bigint[]) AND parked_at IS NULL`,
      [rows.map((r) => r.id)],
    );
    this.published += messages.length;
    return rows.length;
  }

  /**
   * The row as a Kafka message, or undefined once parked: a payload its schema rejects (or an
   * unknown event type) would fail every retry and block its shard for good. A registry that is
   * away is not the row's fault: that error propagates and the batch is retried.
   */
  private async encodeOrPark(
    codec: EventCodec,
    row: { id: string; envelope: EventEnvelope },
  ): Promise<{ key: string; value: Buffer; headers: Record<string, string> } | undefined> {
    try {
      const value = await codec.encode(row.envelope);
      return { key: row.envelope.orderId, value, headers: eventHeaders(row.envelope) };
    } catch (e) {
      if (!isPoison(e)) throw e;
      const reason = parkReason(e);
      await this.pool.query('UPDATE outbox SET parked_at = now(), parked_reason = $2 WHERE id = $1', [
        row.id,
        reason,
      ]);
      this.ctx.log('relay.parked', {
        id: row.id,
        eventId: row.envelope.eventId,
        type: row.envelope.type,
        reason,
      });
      return undefined;
    }
  }
}

/** An encoding failure no retry fixes: the payload fails its schema, or its type has none. */
export function isPoison(e: unknown): boolean {
  return e instanceof EventDecodeError || registryFailure(e) === 'invalid';
}

/** Why a row was parked: the error class, the message and (for a schema failure) what failed. */
export function parkReason(e: unknown): string {
  if (e instanceof EventDecodeError) return `${e.errorClass}: ${e.message}`.slice(0, 1000);
  const paths = (e as { paths?: unknown }).paths;
  return `SchemaInvalid: ${errorMessage(e)} ${JSON.stringify(paths ?? [])}`.slice(0, 1000);
}

import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsAndWait, kafkaClient } from '../../src/adapters/kafka.js';
import type { OrderbusConfig } from '../../src/config.js';
import { nextEvent } from '../../src/events/codec.js';
import { appendOutbox, parkedOutboxCount } from '../../src/pipeline/outbox.js';
import { OutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { declineReason } from '../../src/pipeline/payment.js';
import { testDatabase } from '../support/database.js';
import { testNamespace } from '../support/namespace.js';
import { waitUntil } from '../support/wait.js';

/** Issue 16: an outbox row that cannot be encoded is parked with its reason; its shard flows on. */
const ns = testNamespace('poison');
let db: Awaited<ReturnType<typeof testDatabase>>;
let config: OrderbusConfig;
let admin: Admin;

beforeAll(async () => {
  db = await testDatabase(ns);
  config = { ...db.config, topics: { ...db.config.topics, orderEvents: `${ns}.order.events` } };
  admin = kafkaClient(config, `${ns}-admin`).admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    {
      topic: config.topics.orderEvents,
      numPartitions: 1,
      replicationFactor: config.topics.replicationFactor,
    },
  ]);
}, 60_000);

afterAll(async () => {
  await admin.deleteTopics({ topics: [config.topics.orderEvents] }).catch(() => undefined);
  await admin.disconnect();
  await db.drop();
});

describe('outbox poison', () => {
  it('parks a schema-invalid row with its reason and publishes the rows after it', async () => {
    const orderId = randomUUID();
    const cause = { eventId: randomUUID(), orderId, correlationId: randomUUID() };
    // What payment wrote when the gateway answered < 400 without a reason: {reason: undefined}.
    const poison = nextEvent(cause, 'payment.failed', 'payment', { reason: undefined });
    const after = [
      nextEvent(cause, 'payment.failed', 'payment', { reason: 'card declined' }),
      nextEvent(cause, 'order.failed', 'saga', { reason: 'payment.failed: card declined' }),
    ];
    // One order: every row lands in the same shard, the poison first.
    await appendOutbox(db.pool, [poison, ...after]);

    const logs: string[] = [];
    const relay = new OutboxRelay(
      config,
      db.pool,
      { log: (event) => void logs.push(event) },
      { pollMs: 100, lockNamespace: ns },
    );
    await relay.start();
    try {
      await waitUntil('the rows after the poison are sent', async () => {
        const r = await db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NOT NULL',
        );
        return r.rows[0]?.n === 2;
      });
    } finally {
      await relay.stop();
    }

    const rows = await db.pool.query<{
      event_id: string;
      sent_at: Date | null;
      parked_at: Date | null;
      parked_reason: string | null;
    }>('SELECT event_id, sent_at, parked_at, parked_reason FROM outbox ORDER BY id');
    const [parked, ...sent] = rows.rows;
    expect(parked?.event_id).toBe(poison.eventId);
    expect(parked?.sent_at).toBeNull();
    expect(parked?.parked_at).not.toBeNull();
    expect(parked?.parked_reason).toMatch(/^SchemaInvalid: invalid payload .*\/data/);
    expect(sent.map((r) => r.event_id)).toEqual(after.map((e) => e.eventId));
    expect(sent.every((r) => r.sent_at !== null && r.parked_at === null)).toBe(true);

    // On the topic: the two rows after the poison, not the poison.
    const [offsets] = await admin.fetchTopicOffsets(config.topics.orderEvents);
    expect(Number(offsets?.high)).toBe(2);
    expect(relay.published).toBe(2);
    expect(logs.includes('relay.parked')).toBe(true);

    // `orderbus status` counts it.
    expect(await parkedOutboxCount(config)).toBe(1);
  }, 60_000);

  it('payment.failed always carries a string reason', () => {
    expect(declineReason(200, { status: 'declined' })).toBe('declined');
    expect(declineReason(200, { reason: 'insufficient funds', status: 'declined' })).toBe(
      'insufficient funds',
    );
    expect(declineReason(202, {})).toBe('declined (gateway answered 202)');
    expect(declineReason(200, null)).toBe('declined (gateway answered 200)');
  });
});

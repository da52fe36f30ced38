import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connectAdmin, kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { nextEvent } from '../../src/events/codec.js';
import type { EventEnvelope } from '../../src/events/types.js';
import type { AuditRecord } from '../../src/ops/audit.js';
import type { DlqMessage, DlqSummary, PurgeResult, RedriveResult } from '../../src/ops/dlq/index.js';
import { appendOutbox, parkedOutboxCount } from '../../src/pipeline/outbox.js';
import { runCli, type CliResult } from '../support/cli.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

/**
 * Poison never blocks the outbox, and what it parks is a dead letter like any other: `orderbus
 * dlq list|show|redrive|purge outbox.parked`, through the real CLI, against the real PostgreSQL,
 * Kafka and registry, with the real relay publishing what a redrive un-parks.
 */
const SOURCE = 'outbox.parked';
let p: TestPipeline | undefined;
afterEach(async () => {
  if (!p) return;
  const audit = p.config.topics.audit;
  const config = p.config;
  await p.stop();
  p = undefined;
  const admin = await connectAdmin(config);
  await admin.deleteTopics({ topics: [audit] }).catch(() => undefined);
  await admin.disconnect();
});

const json = <T>(r: CliResult): T => {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
};

const cli = (args: string[]) => runCli(args, { env: p!.env });

interface OutboxRow {
  id: string;
  envelope: EventEnvelope;
  sent_at: Date | null;
  parked_at: Date | null;
  parked_reason: string | null;
  discarded_at: Date | null;
  discard_audit: string | null;
  redrive_count: number;
}

async function outboxRow(eventId: string): Promise<OutboxRow | undefined> {
  const r = await p!.db.pool.query<OutboxRow>(
    `SELECT id, envelope, sent_at, parked_at, parked_reason, discarded_at, discard_audit, redrive_count
     FROM outbox WHERE event_id = $1`,
    [eventId],
  );
  return r.rows[0];
}

const parked = (eventId: string) =>
  waitUntil(`the relay to park ${eventId}`, async () => (await outboxRow(eventId))?.parked_at ?? null);

/** The event ids of every record on the pipeline's order.events topic (its `event-id` header). */
async function eventIdsOnTopic(): Promise<string[]> {
  const { config } = p!;
  const topic = config.topics.orderEvents;
  const admin = await connectAdmin(config);
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const reader = new KafkaLogReader(kafkaClient(config, `${p!.ns}-reader`));
  const ids: string[] = [];
  try {
    for (const o of offsets)
      await reader.readRange(topic, o.partition, Number(o.low), Number(o.high), (batch) => {
        for (const r of batch) ids.push(r.headers['event-id'] ?? '');
      });
  } finally {
    await reader.close();
  }
  return ids;
}

const auditRecord = async (id: string | null): Promise<AuditRecord | undefined> =>
  json<AuditRecord[]>(await cli(['audit', '--json'])).find((a) => a.id === id);

/** A payment.failed without its reason, as payment once wrote it: its schema requires one. */
function poisonEvent(): EventEnvelope {
  const cause = { eventId: randomUUID(), orderId: randomUUID(), correlationId: randomUUID() };
  return nextEvent(cause, 'payment.failed', 'payment', { reason: undefined });
}

describe('orderbus dlq outbox.parked', () => {
  it('lists and shows a parked order.placed; a redrive whose edit fixes it un-parks it, the relay publishes it once and the order is paid', async () => {
    p = await startTestPipeline({ label: 'dlq-outbox', services: ['checkout-api'] });
    const orderId = await p.placeOrder();
    // A writer's bug, as the relay meets it: the order's order.placed fails its schema.
    const placed = await p.db.pool.query<{ event_id: string }>(
      `UPDATE outbox SET envelope = jsonb_set(envelope, '{data,currency}', '"euro"')
       WHERE order_id = $1 AND type = 'order.placed' RETURNING event_id`,
      [orderId],
    );
    const eventId = placed.rows[0]!.event_id;
    await p.startServices(['outbox-relay', 'payment', 'saga']);
    const parkedAt = await parked(eventId);
    const row = (await outboxRow(eventId))!;
    expect(row.parked_reason).toMatch(/^SchemaInvalid: .*currency/);

    // list: the source, one count with status's, its failure class, its time.
    const list = await cli(['dlq', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const summary = json<DlqSummary[]>(list).find((d) => d.name === SOURCE);
    expect(summary).toMatchObject({
      kind: 'outbox',
      count: 1,
      byClass: { SchemaInvalid: 1 },
      source: p.config.topics.orderEvents,
      oldest: parkedAt.toISOString(),
      newest: parkedAt.toISOString(),
    });
    // status's parkedOutbox comes from parkedOutboxCount (the whole `status` samples every group's lag).
    expect(await parkedOutboxCount(p.config)).toBe(summary?.count);

    // show: the row, its event, why and when it was parked, its envelope; --filter and text.
    const show = await cli(['dlq', 'show', SOURCE, '--json']);
    expect(show.code, show.stderr).toBe(0);
    const [letter, ...more] = json<DlqMessage[]>(show);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({
      id: row.id,
      dlq: SOURCE,
      kind: 'outbox',
      orderId,
      errorClass: 'SchemaInvalid',
      lastFailureAt: parkedAt.toISOString(),
      destination: p.config.topics.orderEvents,
      headers: { 'event-type': 'order.placed', 'event-id': eventId },
      payload: row.envelope,
      redriveCount: 0,
    });
    expect(letter?.errorMessage).toContain('currency');
    const none = await cli(['dlq', 'show', SOURCE, '--filter', 'payload.type=payment.failed', '--json']);
    expect(json<DlqMessage[]>(none)).toEqual([]);
    const some = await cli([
      'dlq',
      'show',
      SOURCE,
      '--filter',
      `orderId=${orderId} && errorClass=SchemaInvalid`,
    ]);
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout).toContain(`${row.id}  order ${orderId}  order.placed`);
    expect(some.stdout).toContain(`parked ${parkedAt.toISOString()}: SchemaInvalid:`);

    // An edit that is still invalid: the dry run says so, the execute leaves it parked (exit 4).
    const stillBad = await cli([
      'dlq',
      'redrive',
      SOURCE,
      '--set',
      'data.currency=eur',
      '--execute',
      '--json',
    ]);
    expect(stillBad.code, stillBad.stderr).toBe(4);
    expect(json<RedriveResult>(stillBad)).toMatchObject({
      kind: 'outbox',
      selected: 1,
      invalid: 1,
      redriven: 0,
      remaining: 1,
    });
    expect(json<RedriveResult>(stillBad).items[0]?.problems.join()).toMatch(/^schema: SchemaInvalid/);
    expect((await outboxRow(eventId))?.parked_at).toEqual(parkedAt);

    // The fix: a dry run with its diff and plan id, then exactly that plan.
    const dry = await cli(['dlq', 'redrive', SOURCE, '--set', 'data.currency=EUR', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = json<RedriveResult>(dry);
    expect(plan).toMatchObject({ execute: false, selected: 1, toRedrive: 1, invalid: 0, redriven: 0 });
    expect(plan.items[0]?.diff).toEqual([
      expect.stringMatching(/^- +"currency": "euro",?$/),
      expect.stringMatching(/^\+ +"currency": "EUR",?$/),
    ]);
    expect((await outboxRow(eventId))?.parked_at).toEqual(parkedAt);
    expect(await eventIdsOnTopic()).not.toContain(eventId);

    const run = await cli([
      'dlq',
      'redrive',
      SOURCE,
      '--set',
      'data.currency=EUR',
      '--execute',
      '--plan',
      plan.planId,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const done = json<RedriveResult>(run);
    expect(done).toMatchObject({ execute: true, redriven: 1, failed: 0, remaining: 0, planId: plan.planId });
    await waitUntil('the order to be paid', async () => (await p!.statuses([orderId]))[orderId] === 'paid', {
      timeoutMs: 60_000,
    });
    const sent = (await outboxRow(eventId))!;
    expect(sent).toMatchObject({ parked_at: null, parked_reason: null, redrive_count: 1 });
    expect(sent.sent_at).not.toBeNull();
    expect(sent.envelope.data).toMatchObject({ currency: 'EUR' });
    expect((await eventIdsOnTopic()).filter((id) => id === eventId)).toHaveLength(1);
    const charges = await p.db.pool.query('SELECT 1 FROM payments WHERE order_id = $1', [orderId]);
    expect(charges.rowCount).toBe(1);
    const audited = await auditRecord(done.auditRef);
    expect(audited).toMatchObject({ status: 'done', payloadHashes: [{ id: row.id }] });
    expect(audited?.payloadHashes?.[0]?.after).toMatch(/^[0-9a-f]{64}$/);

    // The same plan again: the row is no longer parked, so nothing is sent twice.
    const again = await cli(['dlq', 'redrive', SOURCE, '--execute', '--plan', plan.planId, '--json']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('PLAN_CHANGED');
    expect(
      json<DlqSummary[]>(await cli(['dlq', 'list', '--json'])).find((d) => d.name === SOURCE)?.count,
    ).toBe(0);
  }, 180_000);

  it('purge: a dry run changes nothing; --execute marks the rows discarded, audited, never sent and no longer counted', async () => {
    p = await startTestPipeline({ label: 'dlq-outbox-purge', services: ['outbox-relay'] });
    const poison = [poisonEvent(), poisonEvent()];
    await appendOutbox(p.db.pool, poison);
    for (const e of poison) await parked(e.eventId);

    const dry = await cli(['dlq', 'purge', SOURCE, '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = json<PurgeResult>(dry);
    expect(plan).toMatchObject({ kind: 'outbox', execute: false, count: 2 });
    for (const e of poison) expect((await outboxRow(e.eventId))?.discarded_at).toBeNull();
    expect(await parkedOutboxCount(p.config)).toBe(2);

    const purge = await cli(['dlq', 'purge', SOURCE, '--execute', '--yes', '--plan', plan.planId, '--json']);
    expect(purge.code, purge.stderr).toBe(0);
    const purged = json<PurgeResult>(purge);
    expect(purged).toMatchObject({ execute: true, count: 2, planId: plan.planId });
    for (const e of poison) {
      const row = (await outboxRow(e.eventId))!;
      expect(row.discarded_at).not.toBeNull();
      expect(row.discard_audit).toBe(purged.auditRef);
      expect(row).toMatchObject({ sent_at: null });
      expect(row.parked_at).not.toBeNull();
    }
    expect(await parkedOutboxCount(p.config)).toBe(0);
    const summary = json<DlqSummary[]>(await cli(['dlq', 'list', '--json'])).find((d) => d.name === SOURCE);
    expect(summary?.count).toBe(0);
    const audited = await auditRecord(purged.auditRef);
    expect(audited?.status).toBe('done');
    expect(audited?.payloadHashes?.map((h) => h.id).sort()).toEqual(
      (await Promise.all(poison.map(async (e) => (await outboxRow(e.eventId))!.id))).sort(),
    );
    // A discarded row is not a dead letter any more: a redrive finds nothing to send.
    const redrive = await cli([
      'dlq',
      'redrive',
      SOURCE,
      '--set',
      'data.reason=declined',
      '--execute',
      '--json',
    ]);
    expect(json<RedriveResult>(redrive)).toMatchObject({ selected: 0, redriven: 0 });
    expect(await eventIdsOnTopic()).toEqual([]);

    // A database that cannot be reached leaves the source out; the brokers' DLQs are still listed.
    const dbDown = await runCli(['dlq', 'list', '--json'], {
      env: { ...p.env, ORDERBUS_DATABASE_URL: 'postgres://orderbus@127.0.0.1:1/orderbus' },
    });
    expect(dbDown.code, dbDown.stderr).toBe(0);
    const names = json<DlqSummary[]>(dbDown).map((d) => d.name);
    expect(names).toContain(p.config.topics.orderEventsDlq);
    expect(names).not.toContain(SOURCE);
    // Asked for by name, the source names the database that is down, not an unknown DLQ.
    const showDown = await runCli(['dlq', 'show', SOURCE], {
      env: { ...p.env, ORDERBUS_DATABASE_URL: 'postgres://orderbus@127.0.0.1:1/orderbus' },
    });
    expect(showDown.code).not.toBe(0);
    expect(showDown.stderr).toContain('error[POSTGRES_UNREACHABLE]');
  }, 120_000);

  it('two redrives at once un-park a row once: its event is on the topic once', async () => {
    p = await startTestPipeline({ label: 'dlq-outbox-race', services: ['outbox-relay'] });
    const poison = poisonEvent();
    await appendOutbox(p.db.pool, [poison]);
    await parked(poison.eventId);

    const args = ['dlq', 'redrive', SOURCE, '--set', 'data.reason=card declined', '--execute', '--json'];
    const runs = await Promise.all([cli(args), cli(args)]);
    const results = runs.map((r) => json<RedriveResult>(r));
    expect(results.reduce((n, r) => n + r.redriven, 0)).toBe(1);
    // The loser either found it un-parked already, or lost the UPDATE: then it says so (exit 4).
    for (const [i, r] of results.entries())
      if (r.redriven === 0)
        expect(r.failed === 0 ? runs[i]?.code : r.items[0]?.problems.join()).toSatisfy(
          (v: unknown) => v === 0 || /no longer parked/.test(String(v)),
        );
    await waitUntil('the relay to publish it', async () => (await outboxRow(poison.eventId))?.sent_at);
    expect((await eventIdsOnTopic()).filter((id) => id === poison.eventId)).toHaveLength(1);
  }, 120_000);
});

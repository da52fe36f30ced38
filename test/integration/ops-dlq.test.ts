import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaClient } from '../../src/adapters/kafka.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';
import { providerAdmin } from '../../src/providers/client.js';
import type { DlqMessage, DlqSummary, PurgeResult, RedriveResult } from '../../src/ops/dlq/index.js';
import type { AuditRecord } from '../../src/ops/audit.js';
import type { QueueInfo } from '../../src/ops/queues.js';
import type { TraceResult } from '../../src/ops/trace.js';
import type { StatusReport } from '../../src/ops/status.js';
import { runCli, spawnCli } from '../support/cli.js';
import { deadLetterWebhooks, queueDepth } from '../support/dead-letters.js';
import { eventLetter, garbageLetter, sendLetters } from '../support/kafka-dead-letters.js';
import { CORE, TASKS, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

/** Dead letters, trace, queues, status and metrics through the real CLI against the real stack. */
let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

/** The command's JSON output; when it printed none, the failure names what the command said on stderr. */
const json = <T>(s: string, stderr = ''): T => {
  try {
    return JSON.parse(s) as T;
  } catch (e) {
    throw new Error(`not JSON (${String(e)}): stdout '${s.slice(0, 300)}', stderr '${stderr.slice(-1500)}'`);
  }
};

describe('orderbus dlq on RabbitMQ: the partner moved its webhook endpoint', () => {
  it('lists, browses without removing, dry-runs with a diff, then redrives --fix-url with each delivery exactly once', async () => {
    p = await startTestPipeline({ label: 'redrive', services: ['webhook-worker'] });
    const env = p.env;
    const { t, dlq } = await deadLetterWebhooks(p, 8);

    const list = await runCli(['dlq', 'list', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const mine = json<DlqSummary[]>(list.stdout).find((d) => d.name === dlq);
    expect(mine).toMatchObject({ kind: 'rabbitmq', count: 8, byClass: { 'HttpGone (410)': 8 } });
    expect(mine?.oldest).toMatch(/^\d{4}-/);

    const show = await runCli(['dlq', 'show', dlq, '--limit', '3', '--json'], { env });
    expect(show.code, show.stderr).toBe(0);
    const shown = json<DlqMessage[]>(show.stdout);
    expect(shown.map((m) => m.id)).toEqual([0, 1, 2].map((i) => `${p!.ns}-task-${i}`));
    expect(shown[0]).toMatchObject({ errorClass: 'HttpGone', statusCode: 410, attempts: 1 });
    expect(shown[0]?.destination).toBe(`${t.taskExchange}/${t.queues['webhook.tasks']}`);
    expect(await queueDepth(p, dlq)).toBe(8);
    const again = json<DlqMessage[]>(
      (await runCli(['dlq', 'show', dlq, '--limit', '8', '--json'], { env })).stdout,
    );
    expect(again.map((m) => m.id)).toEqual(Array.from({ length: 8 }, (_, i) => `${p!.ns}-task-${i}`));

    const oldUrl = `${p.providers.webhook.url}/hooks/v1`;
    const newUrl = `${p.providers.webhook.url}/hooks/v2`;
    const dry = await runCli(['dlq', 'redrive', dlq, '--fix-url', `${oldUrl}=${newUrl}`, '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = json<RedriveResult>(dry.stdout);
    expect(plan).toMatchObject({
      execute: false,
      selected: 8,
      toRedrive: 8,
      unchanged: 0,
      invalid: 0,
      redriven: 0,
    });
    expect(plan.items[0]?.diff.join('\n')).toContain(`+   "url": "${newUrl}/orders"`);
    expect(await queueDepth(p, dlq)).toBe(8);

    const edited = await runCli(['dlq', 'redrive', dlq, '--edit', '--limit', '2', '--json'], {
      env: { ...env, EDITOR: "sed -i 's#/hooks/v1/#/hooks/v2/#'" },
    });
    expect(edited.code, edited.stderr).toBe(0);
    const e = json<RedriveResult>(edited.stdout);
    expect(e).toMatchObject({ selected: 2, toRedrive: 2, unchanged: 0 });
    expect(e.items[1]?.diff.join('\n')).toContain('/hooks/v2/orders');
    const patchFile = join(mkdtempSync(join(tmpdir(), 'patch-')), 'fix.json');
    writeFileSync(patchFile, JSON.stringify({ payload: { note: 'resent' }, url: null }));
    const patched = await runCli(['dlq', 'redrive', dlq, '--patch', patchFile, '--limit', '1', '--json'], {
      env,
    });
    const pr = json<RedriveResult>(patched.stdout);
    expect(pr.items[0]?.diff.join('\n')).toContain('"note": "resent"');
    expect(pr).toMatchObject({ invalid: 1 }); // removing the url makes it invalid: reported, not sent
    const invalid = await runCli(
      ['dlq', 'redrive', dlq, '--set', 'url=not a url', '--limit', '2', '--json'],
      { env },
    );
    expect(json<RedriveResult>(invalid.stdout)).toMatchObject({ selected: 2, invalid: 2, toRedrive: 0 });
    const badFix = await runCli(['dlq', 'redrive', dlq, '--fix-url', 'nonsense', '--execute'], { env });
    expect(badFix.code).toBe(2);
    expect(badFix.stderr).toContain('error[BAD_FIX_URL]');
    const badFilter = await runCli(['dlq', 'redrive', dlq, '--filter', 'errorClass', '--execute'], { env });
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toContain('error[BAD_FILTER]');
    const unknown = await runCli(['dlq', 'show', `${dlq}x`], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error[UNKNOWN_DLQ]');
    expect(unknown.stderr).toContain(dlq);
    expect(await queueDepth(p, dlq)).toBe(8);

    const exec = await runCli(
      ['dlq', 'redrive', dlq, '--fix-url', `${oldUrl}=${newUrl}`, '--execute', '--json'],
      { env },
    );
    expect(exec.code, exec.stderr).toBe(0);
    const done = json<RedriveResult>(exec.stdout);
    expect(done).toMatchObject({ execute: true, redriven: 8, failed: 0, remaining: 0 });
    await waitUntil(
      'every redriven webhook delivered',
      async () => ((await providerAdmin.ledger(p!.providers.webhook.adminUrl)).counts.delivery ?? 0) >= 8,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const ledger = await providerAdmin.ledger(p.providers.webhook.adminUrl);
    expect(ledger.counts.delivery).toBe(8);
    expect(await queueDepth(p, dlq)).toBe(0);

    const audit = await runCli(['audit', '--command', 'dlq redrive', '--json'], { env });
    const records = json<AuditRecord[]>(audit.stdout);
    expect(records).toHaveLength(1);
    expect(records[0]?.id).toBe(done.auditRef);
    expect(records[0]?.payloadHashes).toHaveLength(8);
    expect(records[0]?.payloadHashes?.[0]?.after).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('queues and status show the work queue with its DLQ depth beside it; metrics serve Prometheus text', async () => {
    p = await startTestPipeline({ label: 'queues', services: ['webhook-worker'] });
    const env = p.env;
    const t = topologyOf(p);
    await waitUntil('queue stats', async () => {
      const r = await runCli(['queues', '--json'], { env });
      const q = json<QueueInfo[]>(r.stdout).find((x) => x.name === t);
      return q && q.consumers === 1 && q.dlq === `${t}.dlq` && q.dlqDepth === 0 && q.type === 'quorum';
    });
    const status = await runCli(['status', '--json'], { env });
    const s = json<StatusReport>(status.stdout);
    expect(s.components.map((c) => c.name).sort()).toEqual(['kafka', 'postgres', 'rabbitmq', 'registry']);
    expect(s.queues.some((q) => q.name === t)).toBe(true);
    expect(s.dlqs.some((d) => d.name === `${t}.dlq` && d.kind === 'rabbitmq')).toBe(true);

    // Two exporters: one samples once an hour, one every second.
    const slow = await startMetrics(env, 3600);
    const fast = await startMetrics(env, 1);
    try {
      const first = await slow.scrape();
      expect(first).toContain('# TYPE orderbus_group_lag gauge');
      expect(first).toMatch(/^orderbus_up 1$/m);
      expect(first).toMatch(/^orderbus_sample_duration_seconds \d/m);
      expect(ready(first, t)).toBe(0);
      expect(ready(first, `${t}.dlq`)).toBe(0);
      // One dead letter more, and the management API has seen it.
      const conn = await connectRabbit(p.config, 'test-dlq');
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue(`${t}.dlq`, Buffer.from('{}'), { persistent: true });
      await ch.waitForConfirms();
      await conn.close();
      await waitUntil('the DLQ depth in the management API', async () => {
        const r = await runCli(['queues', '--json'], { env });
        return json<QueueInfo[]>(r.stdout).find((x) => x.name === t)?.dlqDepth === 1;
      });
      // A scrape serves the last sample, not a new one: the hourly exporter's is an older picture.
      const second = await slow.scrape();
      expect(ready(second, `${t}.dlq`)).toBe(0);
      expect(sampleAge(second)).toBeGreaterThan(sampleAge(first));
      // The exporter sampling every second sees it.
      await waitUntil('a later sample', async () => ready(await fast.scrape(), `${t}.dlq`) === 1);
    } finally {
      slow.stop();
      fast.stop();
    }
    const bad = await runCli(['metrics', '--listen', 'nowhere']);
    expect(bad.code).toBe(2);
    const t0 = Date.now();
    const down = await runCli(['queues'], {
      env: { ORDERBUS_RABBITMQ_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:1' },
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('error[RABBITMQ_MANAGEMENT_UNREACHABLE]');
    expect(down.stderr).toContain('127.0.0.1:1');
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 90_000);
});

/** `orderbus metrics` on a free port, sampling every `interval` seconds. */
async function startMetrics(env: NodeJS.ProcessEnv, interval: number) {
  const child = spawnCli(['metrics', '--listen', '127.0.0.1:0', '--interval', String(interval)], env);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await waitUntil('metrics url', () => {
    if (child.exitCode !== null) throw new Error(`orderbus metrics exited: ${err}`);
    return /serving (\S+)/.exec(err)?.[1];
  });
  return {
    scrape: async () => (await fetch(url)).text(),
    stop: () => child.kill('SIGTERM'),
  };
}

/** A queue's orderbus_queue_ready in exposition `text` (NaN when absent). */
function ready(text: string, queue: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`orderbus_queue_ready{queue="${queue}",`));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

function sampleAge(text: string): number {
  return Number(/^orderbus_sample_age_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function topologyOf(p: TestPipeline): string {
  return `${p.config.rabbitPrefix}webhook.tasks`;
}

describe('orderbus dlq on Kafka', () => {
  it('shows decoded and undecodable dead letters, redrives the valid one (exit 4: one left), then purges', async () => {
    p = await startTestPipeline({ label: 'kdlq', services: [] });
    const env = p.env;
    const dlq = p.config.topics.orderEventsDlq;
    const kafka = kafkaClient(p.config, p.ns);
    // Where each letter failed: the payment consumer, at offsets of its own.
    const failedAt = (offset: string) => ({
      [KafkaDlqHeaders.originalOffset]: offset,
      [KafkaDlqHeaders.consumerGroup]: `${p!.ns}.payment`,
      'event-type': 'payment.failed',
    });
    const origin = p.config.topics.orderEvents;
    const valid = await eventLetter(p.config, origin, {}, failedAt('7'));
    const orderId = valid.key;
    await sendLetters(kafka, dlq, [valid, garbageLetter(origin, failedAt('8'))]);

    const show = json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout);
    expect(show).toHaveLength(2);
    expect(show[0]).toMatchObject({
      id: '0:0',
      orderId,
      errorClass: 'TransientExhausted',
      attempts: 3,
      decodeError: null,
    });
    expect((show[0]?.payload as { data: unknown }).data).toEqual({ reason: 'card declined' });
    expect(show[1]?.decodeError).toContain('wire format');
    const filtered = json<DlqMessage[]>(
      (await runCli(['dlq', 'show', dlq, '--filter', 'errorClass=UndecodableRecord', '--json'], { env }))
        .stdout,
    );
    expect(filtered.map((m) => m.id)).toEqual(['0:1']);

    const exec = await runCli(['dlq', 'redrive', dlq, '--execute', '--json'], { env });
    expect(exec.code).toBe(4);
    const r = json<RedriveResult>(exec.stdout);
    expect(r).toMatchObject({ redriven: 1, invalid: 1, remaining: 1 });
    // The redriven event is back on its topic, same key, with a redrive counter.
    const c = kafka.consumer({ groupId: `${p.ns}.check` });
    await c.connect();
    await c.subscribe({ topic: p.config.topics.orderEvents, fromBeginning: true });
    const got: { key: string; headers: Record<string, string> }[] = [];
    await c.run({
      eachMessage: async ({ message }) => {
        got.push({
          key: message.key?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await waitUntil('the redriven event', () => got.length === 1);
    await c.disconnect();
    expect(got[0]?.key).toBe(orderId);
    expect(got[0]?.headers[KafkaDlqHeaders.redriveCount]).toBe('1');
    expect(got[0]?.headers[KafkaDlqHeaders.errorClass]).toBeUndefined();

    const left = json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout);
    expect(left.map((m) => m.id)).toEqual(['0:1']);
    const dryPurge = json<PurgeResult>((await runCli(['dlq', 'purge', dlq, '--json'], { env })).stdout);
    expect(dryPurge).toMatchObject({ execute: false, count: 1 });
    const refused = await runCli(['dlq', 'purge', dlq, '--execute'], { env, input: 'wrong-name\n' });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('error[NOT_CONFIRMED]');
    const purge = await runCli(['dlq', 'purge', dlq, '--execute'], { env, input: `${dlq}\n` });
    expect(purge.code, purge.stderr).toBe(0);
    expect(json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout)).toEqual([]);

    // A record left in the DLQ ahead of redriven ones: the cursor cannot pass it, yet the records
    // redriven after it are never re-published by the next run, nor shown or counted again.
    const later = await Promise.all([1, 2].map(() => eventLetter(p!.config, origin, {}, failedAt('9'))));
    await sendLetters(kafka, dlq, [garbageLetter(origin, failedAt('10')), ...later]);
    const eventsOnTopic = async (): Promise<number> => {
      const admin = kafka.admin();
      await admin.connect();
      const marks = await admin.fetchTopicOffsets(p!.config.topics.orderEvents);
      await admin.disconnect();
      return marks.reduce((n, m) => n + Number(m.high), 0);
    };
    expect(await eventsOnTopic()).toBe(1);
    const first = json<RedriveResult>(
      (await runCli(['dlq', 'redrive', dlq, '--execute', '--json'], { env })).stdout,
    );
    expect(first).toMatchObject({ redriven: 2, invalid: 1, remaining: 1 });
    expect(await eventsOnTopic()).toBe(3);
    const still = json<DlqMessage[]>((await runCli(['dlq', 'show', dlq, '--json'], { env })).stdout);
    expect(still.map((m) => m.errorClass)).toEqual(['UndecodableRecord']);
    const lr = await runCli(['dlq', 'list', '--json'], { env });
    const listed = json<DlqSummary[]>(lr.stdout, lr.stderr);
    expect(listed.find((d) => d.name === dlq)?.count).toBe(1);
    const second = json<RedriveResult>(
      (await runCli(['dlq', 'redrive', dlq, '--execute', '--json'], { env })).stdout,
    );
    expect(second).toMatchObject({ redriven: 0, invalid: 1, remaining: 1 });
    expect(await eventsOnTopic()).toBe(3);
  }, 120_000);
});

describe('orderbus trace', () => {
  it("follows one order through its events, the database, providers and each group's position", async () => {
    p = await startTestPipeline({ label: 'trace', services: [...CORE, ...TASKS] });
    const id = await p.placeOrder('normal', 1);
    await p.waitForTerminal([id]);
    const r = await runCli(['trace', id, '--json'], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    const t = json<TraceResult>(r.stdout);
    expect(t.unavailable).toEqual([]);
    expect(t.status).toBe((await p.statuses([id]))[id]);
    const kafkaTypes = t.entries.filter((e) => e.source === 'kafka').map((e) => e.what);
    expect(kafkaTypes.slice(0, 3)).toEqual(['order.placed', 'payment.captured', 'inventory.reserved']);
    expect(t.entries.some((e) => e.source === 'provider' && e.where.endsWith('payment'))).toBe(true);
    expect(t.entries.some((e) => e.source === 'database' && e.where === 'order_timeline')).toBe(true);
    // The outbox row of each event, sent, and the consumers whose inbox claimed it.
    const placed = t.entries.find((e) => e.where === 'outbox' && e.what.startsWith('order.placed'));
    expect(placed?.details).toMatchObject({ sentAt: expect.any(String) });
    expect(placed?.details?.handledBy).toContain('payment');
    const payment = t.groups.find((g) => g.group === `${p!.ns}.payment`);
    expect(payment?.committed).not.toBeNull();
    const bad = await runCli(['trace', 'not-an-id']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error[BAD_ORDER_ID]');
  }, 90_000);
});

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { PurgeResult, RedriveResult } from '../../src/ops/dlq/index.js';
import { projectRoot } from '../../src/paths.js';
import { OpsAdapter } from '../../ui/ops-adapter.js';
import { runCli } from '../support/cli.js';
import { closeAfterEach } from '../support/cleanups.js';
import { openWebhookDlq, queueDepth, type WebhookDlq } from '../support/dead-letters.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

/**
 * `orderbus dlq` on a RabbitMQ DLQ during a live incident: dead letters keep arriving, some
 * route nowhere, and what runs is what the operator confirmed. The letters are made with plain
 * amqplib (as any application would dead-letter them); the CLI is the real, compiled one.
 */
let p: TestPipeline | undefined;
const closers = closeAfterEach(async () => {
  await p?.stop();
  p = undefined;
});

const json = <T>(s: string): T => JSON.parse(s) as T;

type Dlq = WebhookDlq;

async function webhookDlq(label: string): Promise<Dlq> {
  p = await startTestPipeline({ label, services: [] });
  return openWebhookDlq(p, closers);
}

async function letters(d: Dlq, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) d.letter(i);
  await d.ch.waitForConfirms();
}

/** Task ids in a queue, taking every message (the queues are the test's own). */
async function drainIds(queue: string): Promise<string[]> {
  const conn = await amqp.connect(p!.config.rabbitmq.url);
  const ch = await conn.createChannel();
  const ids: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) break;
    ids.push(String(m.properties.headers?.['x-task-id']));
  }
  await conn.close();
  return ids;
}

/** A partner that keeps failing: `perTick` new dead letters every 100 ms until stopped. */
function keepDeadLettering(d: Dlq, from: number, perTick: number): { stop: () => Promise<number> } {
  let next = from;
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) d.letter(next++);
  }, 100);
  const stop = async () => {
    clearInterval(timer);
    await d.ch.waitForConfirms();
    return next - from;
  };
  closers.push(stop);
  return { stop };
}

describe('dlq redrive on a RabbitMQ DLQ that keeps filling', () => {
  it('a dry run and an --execute work on the snapshot, finish while letters arrive, and report the arrivals', async () => {
    const d = await webhookDlq('live');
    const env = p!.env;
    await letters(d, 0, 2000);
    const producer = keepDeadLettering(d, 1_000_000, 20); // 200 a second
    const fix = `${p!.providers.webhook.url}/hooks/v1=${p!.providers.webhook.url}/hooks/v2`;

    const dry = await runCli(['dlq', 'redrive', d.dlq, '--fix-url', fix, '--json'], {
      env,
      timeoutMs: 60_000,
    });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = json<RedriveResult>(dry.stdout);
    expect(plan.snapshot).toBeGreaterThanOrEqual(2000);
    expect(plan).toMatchObject({
      execute: false,
      selected: plan.snapshot,
      toRedrive: plan.snapshot,
      invalid: 0,
    });
    expect(plan.planId).toMatch(new RegExp(`^${plan.snapshot}-[0-9a-f]{16}$`));
    expect(plan.arrived).toBeGreaterThan(0);

    // The text form: the summary, the first 20 diffs and the plan id; --diff all lists every one.
    await waitUntil(
      "the dry run's letters back in the DLQ",
      async () => (await queueDepth(p!, d.dlq)) >= 2000,
    );
    const text = await runCli(['dlq', 'redrive', d.dlq, '--fix-url', fix], { env, timeoutMs: 60_000 });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.match(/\[changed\]/g)).toHaveLength(20);
    expect(text.stdout).toMatch(/more not listed \(--diff all/);
    expect(text.stdout).toMatch(/arrived meanwhile, left for the next run/);
    expect(text.stdout).toMatch(/--execute --plan \d+-[0-9a-f]{16}/);

    // The broker requeues what the dry runs held when their connections close, asynchronously:
    // a command started at once may find those letters still unacked, outside its snapshot.
    await waitUntil(
      "the dry runs' letters back in the DLQ",
      async () => (await queueDepth(p!, d.dlq)) >= 2000,
    );
    const exec = await runCli(['dlq', 'redrive', d.dlq, '--fix-url', fix, '--execute', '--json'], {
      env,
      timeoutMs: 60_000,
    });
    expect(exec.code, exec.stderr).toBe(0);
    const done = json<RedriveResult>(exec.stdout);
    expect(done.snapshot).toBeGreaterThanOrEqual(2000);
    expect(done).toMatchObject({ redriven: done.snapshot, failed: 0 });
    expect(done.planId).toMatch(/^\d+-[0-9a-f]{16}$/);
    const produced = 2000 + (await producer.stop());
    // Every letter is in exactly one place: redriven to the work queue, or still in the DLQ.
    expect(await queueDepth(p!, d.target)).toBe(done.redriven);
    await waitUntil(
      'the DLQ to hold the rest',
      async () => (await queueDepth(p!, d.dlq)) === produced - done.redriven,
    );
  }, 180_000);

  it('a rate-limited redrive holds about a second of letters unacknowledged, never the whole DLQ', async () => {
    const d = await webhookDlq('rate');
    await letters(d, 0, 60);
    const child = spawn(
      process.execPath,
      [
        join(projectRoot(), 'bin', 'orderbus'),
        'dlq',
        'redrive',
        d.dlq,
        '--execute',
        '--rate',
        '10',
        '--json',
      ],
      { env: { ...process.env, ...p!.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    // Held = neither ready in the DLQ nor in the work queue yet (the passive declares are exact).
    let maxHeld = 0;
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const [ready, moved] = [await queueDepth(p!, d.dlq), await queueDepth(p!, d.target)];
      if (running) maxHeld = Math.max(maxHeld, 60 - ready - moved);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await exited).toBe(0);
    expect(json<RedriveResult>(out)).toMatchObject({ redriven: 60, failed: 0 });
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(12);
  }, 120_000);
});

describe('dlq redrive never loses what routes nowhere', () => {
  it('leaves an unroutable letter and one for a missing exchange in the DLQ (exit 4) and redrives the letters after them', async () => {
    const d = await webhookDlq('unroutable');
    d.letter(0);
    d.letter(1, { routingKey: 'nope-no-such-key' });
    d.letter(2);
    d.letter(3, { exchange: `${p!.ns}.no-such-exchange` });
    d.letter(4);
    d.letter(5);
    await d.ch.waitForConfirms();
    const r = await runCli(['dlq', 'redrive', d.dlq, '--execute', '--json'], { env: p!.env });
    expect(r.code, r.stderr).toBe(4);
    const res = json<RedriveResult>(r.stdout);
    expect(res).toMatchObject({ selected: 6, redriven: 4, failed: 2, remaining: 2 });
    const failed = res.items.filter((i) => i.outcome === 'failed');
    expect(failed.map((i) => i.id)).toEqual([1, 3].map((i) => `${p!.ns}-task-${i}`));
    expect(failed[0]?.problems.join()).toContain('unroutable');
    expect(failed[1]?.problems.join()).toContain('does not exist');
    expect((await drainIds(d.dlq)).sort()).toEqual([1, 3].map((i) => `${p!.ns}-task-${i}`));
    expect((await drainIds(d.target)).sort()).toEqual([0, 2, 4, 5].map((i) => `${p!.ns}-task-${i}`));
  }, 90_000);
});

describe('dlq redrive and purge execute exactly the confirmed plan', () => {
  it('runs the dry run’s letters and not the ones that arrived after it, and refuses when the DLQ changed', async () => {
    const d = await webhookDlq('plan');
    const env = p!.env;
    await letters(d, 0, 10);
    const plan = json<RedriveResult>((await runCli(['dlq', 'redrive', d.dlq, '--json'], { env })).stdout);
    expect(plan).toMatchObject({ snapshot: 10, toRedrive: 10 });
    await letters(d, 10, 5); // arrived after the plan was shown
    const exec = await runCli(['dlq', 'redrive', d.dlq, '--execute', '--plan', plan.planId, '--json'], {
      env,
    });
    expect(exec.code, exec.stderr).toBe(0);
    expect(json<RedriveResult>(exec.stdout)).toMatchObject({
      redriven: 10,
      failed: 0,
      missing: 0,
      planId: plan.planId,
    });
    expect(await queueDepth(p!, d.target)).toBe(10);
    expect(await queueDepth(p!, d.dlq)).toBe(5);

    const plan2 = json<RedriveResult>((await runCli(['dlq', 'redrive', d.dlq, '--json'], { env })).stdout);
    expect(plan2.toRedrive).toBe(5);
    // Someone else takes one letter of the plan.
    const other = await amqp.connect(p!.config.rabbitmq.url);
    const och = await other.createChannel();
    const taken = await och.get(d.dlq, { noAck: true });
    expect(taken).toBeTruthy();
    await other.close();
    const refused = await runCli(['dlq', 'redrive', d.dlq, '--execute', '--plan', plan2.planId], { env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('error[PLAN_CHANGED]');
    expect(refused.stderr).toContain('the DLQ changed since the plan');
    expect(await queueDepth(p!, d.dlq)).toBe(4);
    expect(await queueDepth(p!, d.target)).toBe(10);

    const purgePlan = json<PurgeResult>((await runCli(['dlq', 'purge', d.dlq, '--json'], { env })).stdout);
    expect(purgePlan).toMatchObject({ execute: false, count: 4 });
    await letters(d, 20, 1);
    const purged = await runCli(
      ['dlq', 'purge', d.dlq, '--execute', '--plan', purgePlan.planId, '--yes', '--json'],
      {
        env,
      },
    );
    expect(purged.code, purged.stderr).toBe(0);
    expect(json<PurgeResult>(purged.stdout)).toMatchObject({ count: 4, planId: purgePlan.planId });
    expect(await drainIds(d.dlq)).toEqual([`${p!.ns}-task-20`]);
  }, 120_000);
});

describe('the console redrives what its prompt showed', () => {
  it('a confirmed "redrive 0" redrives nothing, a confirmed 3 redrives those 3 and not the letters that arrived', async () => {
    const d = await webhookDlq('console');
    const ops = new OpsAdapter(p!.config);
    closers.push(() => ops.close());
    const none = { dlq: d.dlq };
    expect((await ops.planRedrive(none)).toRedrive).toBe(0);
    await letters(d, 0, 3);
    expect(await ops.executeRedrive(none, () => undefined)).toMatchObject({ redriven: 0 });
    expect(await queueDepth(p!, d.dlq)).toBe(3);

    const three = { dlq: d.dlq };
    expect((await ops.planRedrive(three)).toRedrive).toBe(3);
    await letters(d, 3, 2);
    expect(await ops.executeRedrive(three, () => undefined)).toMatchObject({ redriven: 3, failed: 0 });
    expect((await drainIds(d.target)).sort()).toEqual([0, 1, 2].map((i) => `${p!.ns}-task-${i}`));
    expect(await queueDepth(p!, d.dlq)).toBe(2);
  }, 90_000);
});

describe('kill -9 in the middle of a redrive', () => {
  it('loses no dead letter of 5,000: each is in the work queue or still in the DLQ', async () => {
    const d = await webhookDlq('kill');
    await letters(d, 0, 5000);
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'dlq', 'redrive', d.dlq, '--execute', '--rate', '2000'],
      { env: { ...process.env, ...p!.env }, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const exited = new Promise((r) => child.on('close', r));
    await waitUntil('a redrive under way', async () => (await queueDepth(p!, d.target)) >= 1500, {
      intervalMs: 20,
    });
    child.kill('SIGKILL');
    await exited;
    const moved = await drainIds(d.target);
    await waitUntil('the killed connection’s deliveries back in the DLQ', async () => {
      const ready = await queueDepth(p!, d.dlq);
      return moved.length + ready >= 5000;
    });
    const left = await drainIds(d.dlq);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThan(5000);
    const all = new Set([...moved, ...left]);
    expect(all.size).toBe(5000);
    // A copy in both places only for letters confirmed but not yet acked (the receivers dedup by task id).
    expect(moved.length + left.length - 5000).toBeLessThanOrEqual(500);
  }, 120_000);
});

import React from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../ui/app.js';
import type { DlqMessageView, GroupView } from '../../ui/model.js';
import { FakeConsoleOps } from '../support/fake-console-ops.js';
import { KEYS, renderWithProviders } from '../support/render.js';

const group = (name: string, status: GroupView['status'], lag: number): GroupView => ({
  group: name,
  state: 'Stable',
  members: 2,
  status,
  totalLag: lag,
  timeLagMs: lag * 10,
  etaSeconds: lag > 0 ? 12 : null,
  partitions: [0, 1].map((p) => ({
    topic: 'order.events',
    partition: p,
    committed: 100,
    end: 100 + lag / 2,
    lag: lag / 2,
    timeLagMs: 500,
    owner: `c-${p}`,
    status,
  })),
});

const webhook = (i: number): DlqMessageView => ({
  id: String(i),
  payload: JSON.stringify({ url: `http://partner.test/hooks/v1/orders`, orderId: `o-${i}` }),
  headers: { 'x-error-status': '410' },
  attempts: 1,
  errorClass: 'HttpGone',
  errorMessage: '410 Gone',
  destination: 'orderbus.tasks/webhook.tasks',
});

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

let frameOf: (() => string) | undefined;
async function settle(check: () => boolean, what: string) {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${frameOf ? `\n${frameOf()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The console on a fake terminal: unmounted after the test, its frame shown when a wait times out. */
function renderApp(
  ops: FakeConsoleOps,
  { refreshMs = 60_000, ...size }: { refreshMs?: number; columns?: number; rows?: number } = {},
) {
  const r = renderWithProviders(<App ops={ops} refreshMs={refreshMs} edit={async () => null} />, size);
  cleanup = r.unmount;
  frameOf = r.lastFrame;
  return r;
}

describe('orderbus console', () => {
  it('shows groups worst first, queues with DLQ depth, and fits 80x24', async () => {
    const ops = new FakeConsoleOps({
      groups: [group('loyalty', 'OK', 0), group('warehouse', 'STALL', 900), group('payment', 'WARN', 40)],
      dlq: { 'webhook.tasks.dlq': [webhook(1)] },
    });
    const r = renderApp(ops, { columns: 80, rows: 24 });
    await settle(() => r.lastFrame().includes('warehouse'), 'first poll');
    const frame = r.lastFrame();
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    const order = ['warehouse', 'payment', 'loyalty'].map((g) => frame.indexOf(g));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(frame).toMatch(/webhook\.tasks\s+0\s+0\s+4\.0\/s\s+4\.0\/s\s+1/);
    expect(frame.replace(/refreshed \d\d:\d\d:\d\d/, 'refreshed HH:MM:SS')).toMatchSnapshot();
  });

  it('drives a redrive with --fix-url semantics from the keyboard: dry run, typed confirmation, progress, result', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': [webhook(1), webhook(2)] } });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await r.press('d');
    await settle(() => r.lastFrame().includes('webhook.tasks.dlq'), 'dlq list');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('2 shown'), 'messages');
    await r.press('u');
    await r.press('http://partner.test/hooks/v1=http://partner.test/hooks/v2');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('DRY RUN: 2 to redrive'), 'dry run');
    expect(ops.redriven).toHaveLength(0);
    expect(r.lastFrame()).toContain('/hooks/v2');
    await r.press('yes');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('redriven 2, failed 0'), 'result');
    expect(ops.redriven.map((x) => JSON.parse(x.payload).url)).toEqual([
      'http://partner.test/hooks/v2/orders',
      'http://partner.test/hooks/v2/orders',
    ]);
  });

  it('refuses a purge when the typed name does not match, purges when it does', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': [webhook(1)] } });
    const r = renderApp(ops);
    await r.press('d');
    await settle(() => r.lastFrame().includes('webhook.tasks.dlq'), 'dlq list');
    await r.press('P');
    await r.press('webhook');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('nothing was purged'), 'refusal');
    expect(ops.dlqMessagesByName['webhook.tasks.dlq']).toHaveLength(1);
    await r.press('P');
    await r.press('webhook.tasks.dlq');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('purged 1 message'), 'purge');
    expect(ops.dlqMessagesByName['webhook.tasks.dlq']).toHaveLength(0);
  });

  it('shows a broker error as a status line with the hint, keeps running, and recovers', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'OK', 0)] });
    ops.failOverview = {
      code: 'KAFKA_UNREACHABLE',
      message: 'cannot reach Kafka at 127.0.0.1:9092',
      hint: 'orderbus stack status',
    };
    const r = renderApp(ops, { refreshMs: 50 });
    await settle(() => r.lastFrame().includes('error[KAFKA_UNREACHABLE]'), 'error line');
    expect(r.lastFrame()).toContain('hint: orderbus stack status');
    expect(r.lastFrame()).not.toMatch(/\n\s+at /); // no stack trace
    ops.failOverview = null;
    await settle(
      () => r.lastFrame().includes('payment') && !r.lastFrame().includes('KAFKA_UNREACHABLE'),
      'recovery',
    );
  });

  it('opens a group, plans an offset reset, and executes only after the group name is typed', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'WARN', 40)] });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await settle(() => r.lastFrame().includes('payment'), 'poll');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('COMMITTED'), 'group detail');
    await r.press('o');
    await r.press('latest');
    await r.press(KEYS.enter);
    await settle(() => r.lastFrame().includes('DRY RUN: reset payment'), 'plan');
    expect(ops.resets).toHaveLength(0);
    await r.press('payment');
    await r.press(KEYS.enter);
    await settle(() => ops.resets.length === 1, 'reset executed');
    expect(ops.resets[0]?.strategy).toBe('latest');
  });

  it('lists every key binding in the help overlay and redraws on resize', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'OK', 0)] });
    const r = renderApp(ops, { columns: 80, rows: 24 });
    await r.press('?');
    await settle(() => r.lastFrame().includes('this help'), 'help');
    expect(r.lastFrame()).toContain('redrive all');
    await r.press('?');
    r.stdout.resize(120, 40);
    await settle(
      () =>
        Math.max(
          ...r
            .lastFrame()
            .split('\n')
            .map((l) => l.length),
        ) > 80,
      'wider frame',
    );
  });
});

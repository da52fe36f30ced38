import { describe, expect, it } from 'vitest';
import { group, renderApp, settle, step, webhook } from '../support/console-harness.js';
import { FakeConsoleOps } from '../support/fake-console-ops.js';
import { KEYS } from '../support/render.js';

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

  it('draws the lag trend of each group from the polls, with one frame per poll', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'WARN', 100)] });
    const r = renderApp(ops, { columns: 100, rows: 24 });
    await settle(() => r.lastFrame().includes('payment'), 'first poll');
    const drawn: number[] = [];
    for (const lag of [300, 900]) {
      const first = ops.overviewData.groups[0];
      if (first) first.totalLag = lag;
      const before = r.stdout.frames.length;
      await r.press('r');
      await settle(() => r.lastFrame().includes(String(lag)), `the poll with lag ${lag}`);
      await new Promise((done) => setTimeout(done, 100));
      drawn.push(r.stdout.frames.length - before);
    }
    const trend = r
      .lastFrame()
      .split('\n')
      .find((l) => l.startsWith('payment'))
      ?.trim()
      .split(/\s+/)
      .pop();
    expect(trend).toHaveLength(3);
    expect([...(trend ?? '')]).toEqual([...(trend ?? '')].sort());
    // The key press, then the poll's answer: the history is taken in the same frame.
    expect(drawn).toEqual([2, 2]);
  });

  it('drives a redrive with --fix-url semantics from the keyboard: dry run, typed confirmation, progress, result', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': [webhook(1), webhook(2)] } });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], '2 of 2 shown');
    await step(
      r,
      ['u', 'http://partner.test/hooks/v1=http://partner.test/hooks/v2', KEYS.enter],
      'DRY RUN: 2 to redrive',
    );
    expect(ops.redriven).toHaveLength(0);
    expect(r.lastFrame()).toContain('/hooks/v2');
    await step(r, ['yes', KEYS.enter], 'redriven 2, failed 0');
    expect(ops.redriven.map((x) => JSON.parse(x.payload).url)).toEqual([
      'http://partner.test/hooks/v2/orders',
      'http://partner.test/hooks/v2/orders',
    ]);
  });

  it('redrives one payload edited in the editor: the dry run shows the edit, yes sends it', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': [webhook(1), webhook(2)] } });
    const edited: string[] = [];
    const r = renderApp(ops, {
      columns: 100,
      rows: 30,
      edit: async (text) => {
        edited.push(text);
        return text.replace('/hooks/v1/', '/hooks/v2/');
      },
    });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], '2 of 2 shown');
    await step(r, ['e'], 'DRY RUN: 1 to redrive');
    expect(edited).toEqual([webhook(1).payload]);
    expect(r.lastFrame()).toContain('/hooks/v2');
    await step(r, ['yes', KEYS.enter], 'redriven 1, failed 0, left in the DLQ 1');
    expect(ops.redriven.map((x) => [x.message.id, JSON.parse(x.payload).url])).toEqual([
      ['1', 'http://partner.test/hooks/v2/orders'],
    ]);
  });

  it('refuses a purge when the typed name does not match, purges when it does', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': [webhook(1)] } });
    const r = renderApp(ops);
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, ['P', 'webhook', KEYS.enter], 'nothing was purged');
    expect(ops.dlqMessagesByName['webhook.tasks.dlq']).toHaveLength(1);
    await step(r, ['P', 'webhook.tasks.dlq', KEYS.enter], 'purged 1 message');
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
    const ops = new FakeConsoleOps({ groups: [group('payment', 'WARN', 40, 0)] });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await settle(() => r.lastFrame().includes('payment'), 'poll');
    await step(r, [KEYS.enter], 'COMMITTED');
    await step(r, ['o', 'latest', KEYS.enter], 'DRY RUN: reset payment');
    expect(ops.resets).toHaveLength(0);
    await r.press('payment');
    await r.press(KEYS.enter);
    await settle(() => ops.resets.length === 1, 'reset executed');
    expect(ops.resets[0]?.strategy).toBe('latest');
  });

  it('lists every key binding in the help overlay and redraws on resize', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'OK', 0)] });
    const r = renderApp(ops, { columns: 80, rows: 24 });
    await step(r, ['?'], 'this help');
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

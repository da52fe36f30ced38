import { describe, expect, it } from 'vitest';
import type { DlqPage, TraceView } from '../../ui/model.js';
import { group, renderApp, settle, step, webhook } from '../support/console-harness.js';
import { FakeConsoleOps } from '../support/fake-console-ops.js';
import { KEYS } from '../support/render.js';

/**
 * The console during an incident (issue 15): DLQs that keep filling, rows that re-sort on every
 * refresh, a small terminal. Each case is one thing the operator saw go wrong.
 */
const FIX = 'http://partner.test/hooks/v1=http://partner.test/hooks/v2';
const letters = (n: number) => Array.from({ length: n }, (_, i) => webhook(i + 1));

/** Frame lines without the header, whose refresh time changes. */
const body = (frame: string) => frame.split('\n').slice(1).join('\n');

describe('console during an incident', () => {
  it('shows what a redrive plan has scanned, and Esc cancels it at once and gives the letters back', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': letters(4) } });
    ops.holdPlans = true;
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], '4 of 4 shown');
    await step(
      r,
      ['u', FIX, KEYS.enter],
      'planning the redrive of webhook.tasks.dlq… scanned 2 of 4 · esc cancels',
    );
    expect(ops.held['webhook.tasks.dlq']).toBe(2);
    await step(r, [KEYS.escape], 'planning cancelled');
    expect(ops.cancelledPlans).toBe(1);
    expect(ops.held).toEqual({});
    expect(r.lastFrame()).not.toContain('type yes');
    // Esc cancelled the plan only: still on the DLQ's letters.
    expect(r.lastFrame()).toContain('webhook.tasks.dlq: 4 of 4 shown');
  });

  it('pops a finished plan up on its DLQ screen with its diff, wherever the operator went meanwhile', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': letters(2) } });
    ops.holdPlans = true;
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], '2 of 2 shown');
    await step(r, ['u', FIX, KEYS.enter], 'scanned 1 of 2');
    await step(r, ['1'], 'CONSUMER GROUPS');
    ops.releasePlans();
    await settle(() => r.lastFrame().includes('DRY RUN: 2 to redrive'), 'the plan on its screen');
    const frame = r.lastFrame();
    expect(frame).toContain('webhook.tasks.dlq: 2 of 2 shown');
    expect(frame).toContain('/hooks/v2');
    expect(frame).toContain('redrive 2 message(s)? type yes:');
  });

  it('says loading while a browse loads, and N of M once it has (held letters counted)', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    class SlowBrowse extends FakeConsoleOps {
      override async dlqMessages(dlq: string, limit: number): Promise<DlqPage> {
        await gate;
        return super.dlqMessages(dlq, limit);
      }
    }
    const ops = new SlowBrowse({ dlq: { 'webhook.tasks.dlq': letters(904) } });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], 'webhook.tasks.dlq: loading…');
    expect(r.lastFrame()).not.toContain('empty');
    open();
    await step(r, [], 'webhook.tasks.dlq: 200 of 904 shown');
    // Every letter held by a plan elsewhere: they are still dead letters, not an empty queue.
    ops.held['webhook.tasks.dlq'] = 904;
    await step(r, ['r'], 'webhook.tasks.dlq: 0 of 904 shown');
    expect(r.lastFrame()).toContain('904 dead letter(s), all held unacknowledged by another reader');
    expect(r.lastFrame()).not.toContain('is empty');
  });

  it('keeps the cursor on the same group while a refresh re-sorts the rows', async () => {
    const ops = new FakeConsoleOps({
      groups: [group('saga', 'WARN', 300), group('dispatcher', 'WARN', 200), group('warehouse', 'WARN', 100)],
    });
    const r = renderApp(ops, { refreshMs: 40 });
    await settle(() => r.lastFrame().includes('warehouse'), 'first poll');
    await r.press('j'); // dispatcher
    const before = r.lastFrame();
    // dispatcher's lag grows past saga's: it becomes the first row.
    ops.overviewData.groups = [
      group('saga', 'WARN', 300),
      group('dispatcher', 'WARN', 900),
      group('warehouse', 'WARN', 100),
    ];
    await settle(() => r.lastFrame().indexOf('dispatcher') < r.lastFrame().indexOf('saga'), 're-sorted rows');
    expect(before.indexOf('saga')).toBeLessThan(before.indexOf('dispatcher'));
    await step(r, [KEYS.enter], 'dispatcher state Stable');
  });

  it('acts on the row a burst of keys selected: j j j j Enter in one chunk', async () => {
    const ops = new FakeConsoleOps({
      dlq: Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => [`${x}.tasks.dlq`, letters(1)])),
    });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'f.tasks.dlq');
    r.burst('jjjj\r');
    await step(r, [], 'e.tasks.dlq: 1 of 1 shown');
  });

  it('refuses an offset reset up front on a group with members, with the reason and no plan', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'OK', 0, 1)] });
    const r = renderApp(ops, { columns: 120, rows: 30 });
    await settle(() => r.lastFrame().includes('payment'), 'poll');
    await step(r, [KEYS.enter], 'COMMITTED');
    await step(r, ['o'], 'error[GROUP_ACTIVE]: group payment is Stable with 1 active member(s)');
    expect(r.lastFrame()).toContain("hint: stop the group's consumers");
    expect(r.lastFrame()).not.toContain('reset to');
    expect(r.lastFrame()).not.toContain('DRY RUN');
  });

  it('lists the Kafka DLQ topic on the overview beside the RabbitMQ queues', async () => {
    const ops = new FakeConsoleOps({
      dlq: { 'order.events.dlq': letters(90) },
      kafkaDlqs: ['order.events.dlq'],
    });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await settle(() => r.lastFrame().includes('order.events.dlq'), 'poll');
    expect(r.lastFrame()).toMatch(/order\.events\.dlq \(kafka\)\s+90\s+-/);
    await step(r, ['\t', KEYS.enter], 'order.events.dlq: 90 of 90 shown');
  });

  it('at 80x24 uses every line and says +N more for the rows it cannot show', async () => {
    const many = Array.from({ length: 14 }, (_, i) => group(`group-${String(i).padStart(2, '0')}`, 'OK', i));
    const queues = Array.from({ length: 10 }, (_, i) => ({
      name: `q${i}.tasks`,
      type: 'quorum',
      ready: i,
      unacked: 0,
      consumers: 1,
      publishRate: 1,
      deliverRate: 1,
      ackRate: 1,
      dlqDepth: 0,
    }));
    const ops = new FakeConsoleOps({ groups: many, queues });
    const r = renderApp(ops, { columns: 80, rows: 24 });
    await settle(() => r.lastFrame().includes('group-13'), 'poll');
    const lines = r.lastFrame().split('\n');
    // Header, components, 2 titles, 2 "+N more", the key line: 24 - 7 rows of data.
    expect(lines).toHaveLength(24);
    expect(lines.filter((l) => /^(group-|q\d)/.test(l))).toHaveLength(17);
    expect(r.lastFrame()).toContain('+5 more');
    expect(r.lastFrame()).toContain('+2 more');
    expect(body(r.lastFrame())).toMatchSnapshot();
  });

  it('clears the last status line when a new action starts', async () => {
    const ops = new FakeConsoleOps({ dlq: { 'webhook.tasks.dlq': letters(2) } });
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['d'], 'webhook.tasks.dlq');
    await step(r, [KEYS.enter], '2 of 2 shown');
    await step(r, ['A'], 'type yes');
    await step(r, [KEYS.escape], 'cancelled; nothing was changed');
    await step(r, ['/', '1', KEYS.enter], 'filter: 1');
    expect(r.lastFrame()).not.toContain('cancelled');
  });

  it('traces with whole offsets and each group position, as orderbus trace prints them', async () => {
    const ops = new FakeConsoleOps();
    const orderId = '8d5e0c3e-3b0c-4e43-9d55-0a4c2f0a9b11';
    const trace: TraceView = {
      orderId,
      status: 'paid',
      topic: 'order.events',
      partition: 3,
      unavailable: [],
      entries: [
        { at: '2026-12-01T10:00:00.000Z', where: 'kafka order.events/3@1234567', what: 'order.placed' },
        { at: '2026-12-01T10:00:01.000Z', where: 'kafka order.events/3@1234590', what: 'payment.captured' },
      ],
      groups: [
        { group: 'orderbus.payment', committed: 1234600, unseen: [] },
        {
          group: 'orderbus.shipping',
          committed: 1234580,
          unseen: [{ offset: 1234590, type: 'payment.captured' }],
        },
      ],
    };
    ops.traces[orderId] = trace;
    const r = renderApp(ops, { columns: 100, rows: 30 });
    await step(r, ['t', orderId, KEYS.enter], 'payment.captured');
    const frame = r.lastFrame();
    expect(frame).toContain('kafka order.events/3@1234567');
    expect(frame).toMatch(/GROUP\s+COMMITTED NOT YET SEEN/);
    expect(frame).toMatch(/orderbus\.payment\s+1234600 all seen/);
    expect(frame).toMatch(/orderbus\.shipping\s+1234580 payment\.captured@1234590/);
    expect(body(frame)).toMatchSnapshot();
  });
});

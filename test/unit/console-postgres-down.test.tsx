import { describe, expect, it } from 'vitest';
import { group, renderApp, settle } from '../support/console-harness.js';
import { FakeConsoleOps } from '../support/fake-console-ops.js';

describe('console overview with PostgreSQL down', () => {
  it('names postgres down with the reason and keeps the groups and queues, within 80x24', async () => {
    const ops = new FakeConsoleOps({ groups: [group('payment', 'WARN', 40), group('loyalty', 'OK', 0)] });
    ops.overviewData.components = [
      { name: 'kafka', status: 'up', address: '127.0.0.1:9092' },
      { name: 'rabbitmq', status: 'up', address: '127.0.0.1:5672' },
      { name: 'postgres', status: 'down', reason: 'timed out', address: '127.0.0.1:5432/orderbus' },
      { name: 'registry', status: 'up', address: 'http://127.0.0.1:8081/apis/ccompat/v7' },
    ];
    const r = renderApp(ops, { columns: 80, rows: 24 });
    await settle(() => r.lastFrame().includes('payment'), 'first poll');
    const frame = r.lastFrame();
    expect(frame).toContain('postgres down (timed out)');
    expect(frame).toContain('registry up');
    for (const name of ['payment', 'loyalty', 'email.tasks', 'webhook.tasks']) expect(frame).toContain(name);
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
  });
});

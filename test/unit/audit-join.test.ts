import { describe, expect, it } from 'vitest';
import { joinAudit } from '../../src/ops/audit.js';

const target = { context: null, bootstrapServers: ['127.0.0.1:9092'], clusterId: 'c1' };
const intent = (id: string, at: string) => ({
  phase: 'intent' as const,
  id,
  at,
  operator: 'ann',
  host: 'h',
  target,
  command: `dlq purge x.dlq`,
  plan: { count: 2 },
  payloadHashes: [{ id: '0:1', before: 'a' }],
});

describe('joinAudit', () => {
  it('reads an intent with its result as the result status, and one without as interrupted', () => {
    const recs = joinAudit([
      intent('a', '2026-12-01T10:00:00.000Z'),
      intent('b', '2026-12-01T10:01:00.000Z'),
      { phase: 'result', id: 'a', at: '2026-12-01T10:00:02.000Z', status: 'partial', result: { removed: 1 } },
    ]);
    expect(recs.map((r) => [r.id, r.status, r.result, r.finishedAt])).toEqual([
      ['a', 'partial', { removed: 1 }, '2026-12-01T10:00:02.000Z'],
      ['b', 'interrupted', null, null],
    ]);
    expect(recs[1]).toMatchObject({
      target,
      plan: { count: 2 },
      payloadHashes: [{ id: '0:1', before: 'a' }],
    });
  });

  it('reads a one-piece record (a drill, an older version) as done, and ignores a result without its intent', () => {
    const recs = joinAudit([
      {
        id: 'd',
        at: '2026-12-01T09:00:00.000Z',
        operator: 'ann',
        host: 'h',
        command: 'chaos run x',
        plan: {},
        result: { verdict: 'pass' },
      },
      { phase: 'result', id: 'zz', at: '2026-12-01T09:00:00.000Z', status: 'done', result: {} },
    ]);
    expect(recs).toEqual([
      expect.objectContaining({
        id: 'd',
        status: 'done',
        target: null,
        finishedAt: '2026-12-01T09:00:00.000Z',
      }),
    ]);
  });
});

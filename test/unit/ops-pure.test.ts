import { describe, expect, it } from 'vitest';
import { LagMonitor, type LagSnapshot } from '../../src/ops/lag.js';
import { parseDuration, parseZonedDatetime } from '../../src/ops/offsets.js';
import { byteChunks } from '../../src/ops/replay.js';

describe('offsets reset parsing', () => {
  it('refuses zoneless datetimes and accepts Z or an offset', () => {
    expect(() => parseZonedDatetime('2026-11-23T10:00:00')).toThrow(/no time zone/);
    expect(parseZonedDatetime('2026-11-23T10:00:00+01:00').toISOString()).toBe('2026-11-23T09:00:00.000Z');
  });

  it('parses ISO 8601 durations like Kafka --by-duration', () => {
    expect(parseDuration('P1DT2H3M')).toBe(((24 + 2) * 60 + 3) * 60000);
    expect(parseDuration('PT30M')).toBe(30 * 60000);
    expect(() => parseDuration('30m')).toThrow(/ISO 8601 duration/);
    expect(() => parseDuration('PT')).toThrow();
  });
});

describe('Burrow-style status window', () => {
  const snap = (
    at: number,
    committed: number | null,
    end: number,
    owned: boolean,
    state = 'Stable',
  ): LagSnapshot => ({
    at,
    recordTimestamps: new Map(),
    groups: [
      {
        group: 'g',
        state,
        members: owned ? 1 : 0,
        partitions: [
          {
            topic: 't',
            partition: 0,
            committed,
            logStart: 0,
            logEnd: end,
            owner: owned ? { memberId: 'm', clientId: 'c', host: 'h' } : null,
          },
        ],
      },
    ],
  });
  const status = (snaps: LagSnapshot[], thresholds = {}) => {
    const m = new LagMonitor(10, thresholds);
    for (const s of snaps) m.add(s);
    return m.evaluate().groups[0];
  };

  it('OK while consuming keeps up; rate and ETA from the window', () => {
    const g = status([snap(0, 100, 110, true), snap(2000, 140, 150, true)]);
    expect(g?.status).toBe('OK');
    expect(g?.consumeRate).toBe(20);
    expect(g?.etaSeconds).toBe(0.5);
  });

  it('WARN when lag rises in every interval', () => {
    expect(
      status([snap(0, 100, 110, true), snap(1000, 105, 130, true), snap(2000, 110, 150, true)])?.status,
    ).toBe('WARN');
  });

  it('STOP when nobody owns a lagging partition that does not move', () => {
    expect(status([snap(0, 100, 150, false, 'Empty'), snap(1000, 100, 150, false, 'Empty')])?.status).toBe(
      'STOP',
    );
  });

  it('STALL only once an owned partition has not moved for the whole (long enough) window', () => {
    expect(status([snap(0, 100, 150, true), snap(3000, 100, 150, true)])?.status).toBe('OK');
    expect(status([snap(0, 100, 150, true), snap(12000, 100, 150, true)])?.status).toBe('STALL');
  });

  it('REWIND when a committed offset goes backwards', () => {
    expect(status([snap(0, 100, 150, true), snap(1000, 20, 150, true)])?.status).toBe('REWIND');
  });

  it('thresholds raise WARN and ERR on a single sample', () => {
    expect(status([snap(0, 100, 150, true)], { g: { warnLag: 10 } })?.status).toBe('WARN');
    expect(status([snap(0, 100, 150, true)], { g: { warnLag: 10, errLag: 40 } })?.status).toBe('ERR');
  });
});

describe('replay produce chunks', () => {
  it('cuts sends below the byte limit, keeps order, and never leaves a chunk empty', () => {
    const m = (i: number, size: number) => ({
      key: Buffer.from(String(i)),
      value: Buffer.alloc(size),
      timestamp: 0,
      headers: [],
    });
    const msgs = [m(0, 400), m(1, 400), m(2, 400), m(3, 5000), m(4, 10)];
    const chunks = byteChunks(msgs, 1000);
    expect(chunks.map((c) => c.map((x) => String(x.key)))).toEqual([['0', '1'], ['2'], ['3'], ['4']]);
    expect(chunks.flat()).toEqual(msgs);
    expect(byteChunks([], 1000)).toEqual([]);
  });
});

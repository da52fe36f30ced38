import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { passIntervalMs, retentionMinutes } from '../../src/pipeline/retention.js';

describe('retention period', () => {
  it('is retention.minutes when set, else retention.days', () => {
    expect(retentionMinutes({ days: 7 })).toBe(7 * 24 * 60);
    expect(retentionMinutes({ days: 7, minutes: 5 })).toBe(5);
  });

  it('is pruned every tenth of the period, between 5 s and 10 min', () => {
    expect(passIntervalMs({ days: 7 })).toBe(600_000);
    expect(passIntervalMs({ days: 7, minutes: 5 })).toBe(30_000);
    expect(passIntervalMs({ days: 7, minutes: 1 })).toBe(6000);
    expect(passIntervalMs({ days: 7, minutes: 100 })).toBe(600_000);
  });

  it('reads ORDERBUS_RETENTION_MINUTES and refuses one below a minute', () => {
    expect(loadConfig({ env: { ORDERBUS_RETENTION_MINUTES: '5' } }).retention).toEqual({
      days: 7,
      minutes: 5,
    });
    expect(loadConfig({ env: {} }).retention).toEqual({ days: 7 });
    expect(() => loadConfig({ env: { ORDERBUS_RETENTION_MINUTES: '0' } })).toThrow(/retention.minutes/);
  });
});

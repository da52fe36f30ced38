import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResetResult } from '../../src/ops/offsets.js';
import { GroupsFixture } from '../support/groups.js';

/** `orderbus offsets reset` against the real Kafka, checked with Apache's own ConsumerGroupCommand. */
const fx = new GroupsFixture('offsets');
/** `orderbus offsets reset --group GROUP --topic TOPIC ARGS`. */
const reset = (args: string[], group = fx.idle, topic = fx.topic) =>
  fx.cli(['offsets', 'reset', '--group', group, '--topic', topic, ...args]);
const resetJson = (args: string[]) =>
  fx.json<ResetResult>(['offsets', 'reset', '--group', fx.idle, '--topic', fx.topic, ...args]);

beforeAll(() => fx.start(), 120_000);
afterAll(() => fx.stop());

describe('orderbus offsets reset', () => {
  it('plans per partition without touching anything (dry run)', async () => {
    const plan = await resetJson(['--to-earliest']);
    expect(plan.executed).toBe(false);
    const p0 = plan.rows.find((x) => x.partition === 0);
    expect(p0).toMatchObject({ current: 4, target: 0, delta: -4, reRead: 4, skipped: 0 });
    expect(p0?.fromTime).toMatch(/^\d{4}-/);
    expect(plan.rows.find((x) => x.partition === 1)).toMatchObject({ current: null, target: 0 });
    expect(await fx.committed(fx.idle, 0)).toBe(4);
  }, 60_000);

  it('refuses --execute on a group with active members with exit 3', async () => {
    const r = await reset(['--to-earliest', '--execute'], fx.active);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error[GROUP_ACTIVE]');
    expect(r.stderr).toContain('--wait-empty');
    expect((await fx.apacheDescribe(fx.active)).every((a) => a.lag === 0)).toBe(true);
  }, 60_000);

  it('executes on an empty group, writes a rollback file, and the rollback restores the offsets', async () => {
    const done = await resetJson(['--shift-by', '-2', '--partitions', '0', '--execute']);
    expect(done.executed).toBe(true);
    expect(done.rows).toEqual([expect.objectContaining({ partition: 0, current: 4, target: 2 })]);
    expect(await fx.committed(fx.idle, 0)).toBe(2);
    const rollbackFile = done.rollbackFile ?? '';
    expect(existsSync(rollbackFile)).toBe(true);
    const file = JSON.parse(readFileSync(rollbackFile, 'utf8')) as { offsets: unknown[] };
    expect(file.offsets).toEqual([{ partition: 0, offset: 4 }]);
    expect(done.rollbackCommand).toContain(`--from-file ${rollbackFile}`);
    const back = await reset(['--from-file', rollbackFile, '--execute']);
    expect(back.code, back.stderr).toBe(0);
    expect(await fx.committed(fx.idle, 0)).toBe(4);
    const audit = await fx.json<unknown[]>(['audit', '--command', 'offsets reset']);
    expect(audit.length).toBe(2);
  }, 90_000);

  it('rejects bad input before touching anything', async () => {
    const rows = [
      {
        bad: 'a zoneless time',
        args: ['--to-datetime', '2026-11-23T10:00:00'],
        code: 2,
        says: ['error[BAD_DATETIME]', 'time zone'],
      },
      {
        bad: 'an out-of-range offset',
        args: ['--to-offset', '25', '--execute'],
        code: 2,
        says: ['error[OFFSET_OUT_OF_RANGE]', 'partition 0: 25 not in [0, 10]'],
      },
      {
        bad: 'two strategies',
        args: ['--to-earliest', '--to-latest'],
        code: 2,
        says: ['error[RESET_STRATEGY]'],
      },
      {
        bad: 'a duration in no known syntax',
        args: ['--by-duration', '15x'],
        code: 2,
        says: ['error[BAD_DURATION]'],
      },
      {
        bad: 'an unknown topic',
        topic: `${fx.topic}s`,
        args: ['--to-earliest'],
        code: 1,
        says: ['error[UNKNOWN_TOPIC]', fx.topic],
      },
    ];
    for (const row of rows) {
      const r = await reset(row.args, fx.idle, row.topic);
      expect(r.code, row.bad).toBe(row.code);
      for (const text of row.says) expect(r.stderr, row.bad).toContain(text);
    }
    expect(await fx.committed(fx.idle, 0)).toBe(4);
  }, 60_000);
});

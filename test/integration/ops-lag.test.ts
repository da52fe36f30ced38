import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import type { LagReport } from '../../src/ops/lag.js';
import { runCli } from '../support/cli.js';
import { GroupsFixture } from '../support/groups.js';
import { asToolRows } from '../support/kafka-tools.js';
import { waitUntil } from '../support/wait.js';

/** `orderbus lag` against the real Kafka, checked against Apache's own ConsumerGroupCommand. */
const fx = new GroupsFixture('lag');
const lagJson = (group: string, sample = '0') =>
  fx.json<LagReport>(['lag', '--group', group, '--sample', sample]);

beforeAll(() => fx.start(), 120_000);
afterAll(() => fx.stop());

describe('orderbus lag', () => {
  it.each([
    { which: 'a group without members', group: () => fx.idle, state: 'Empty', members: 0, rows: 2 },
    { which: 'a live group, owners included', group: () => fx.active, state: 'Stable', members: 1, rows: 3 },
  ])(
    "equals Apache's ConsumerGroupCommand --describe for $which",
    async ({ group, state, members, rows }) => {
      const apache = await fx.apacheDescribe(group());
      const ours = (await lagJson(group())).groups[0];
      expect(ours?.group).toBe(group());
      expect(ours?.state).toBe(state);
      expect(ours?.members).toBe(members);
      expect(apache.length).toBe(rows);
      expect(asToolRows(ours?.partitions.filter((p) => p.topic === fx.topic))).toEqual(apache);
    },
    90_000,
  );

  it('adds the time lag: the age of the oldest unconsumed record, 0 when caught up', async () => {
    const ours = (await lagJson(fx.idle)).groups[0];
    expect(ours?.totalLag).toBe(6);
    // The oldest unconsumed record of partition 0 is record 4, written 56 s "later" than now-60s.
    expect(ours?.partitions.find((p) => p.partition === 0)?.timeLagMs).toBeGreaterThan(50_000);
    expect(ours?.partitions.find((p) => p.partition === 2)?.timeLagMs).toBe(0);
  });

  it('reports STOP for a group whose partitions have lag and nobody consuming, over a sampled window', async () => {
    const g = (await lagJson(fx.idle, '1')).groups[0];
    expect(g?.partitions.find((p) => p.partition === 0)?.status).toBe('STOP');
    expect(g?.partitions.find((p) => p.partition === 2)?.status).toBe('OK');
    expect(g?.status).toBe('STOP');
    expect(g?.reasons.join(' ')).toContain('no consumer');
  });

  it('--watch --json streams one report per interval while the window fills', async () => {
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'lag', '--group', fx.idle, '--watch', '1', '--json'],
      { env: { ...process.env, ...fx.env } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const lines = () => out.split('\n').filter((l) => l.trim());
    try {
      await waitUntil('three reports', () => lines().length >= 3, { timeoutMs: 30_000 });
    } finally {
      child.kill('SIGINT');
    }
    const reports = lines().map((l) => JSON.parse(l) as LagReport);
    expect(reports.map((r) => r.samples).slice(0, 3)).toEqual([1, 2, 3]);
    expect(reports[2]?.groups[0]?.status).toBe('STOP');
  }, 60_000);

  it('names an unknown group and its close matches, exit 1', async () => {
    const r = await fx.cli(['lag', '--group', `${fx.idle}x`, '--sample', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[UNKNOWN_GROUP]');
    expect(r.stderr).toContain(fx.idle);
    expect(r.stderr).toContain('hint:');
  });

  it('fails fast naming the address when the broker is unreachable', async () => {
    const t0 = Date.now();
    const r = await runCli(['--bootstrap-server', '127.0.0.1:1', 'lag', '--sample', '0'], {
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[KAFKA_UNREACHABLE]');
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import type { LagReport } from '../../src/ops/lag.js';
import { runCli } from '../support/cli.js';
import { GroupsFixture } from '../support/groups.js';
import { describeGroupsArgs } from '../support/kafka-tools.js';
import { waitUntil } from '../support/wait.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The conventions scripts and shells rely on, through the real CLI: --version, completion,
 * `lag --format kafka` equal to Apache's --describe, --fail-on exit codes, colour and --watch
 * that write no escape codes into a pipe unless asked.
 */
const fx = new GroupsFixture('cli');
const run = promisify(execFile);
// eslint-disable-next-line no-control-regex
const ESC = /\u001b\[/;

beforeAll(() => fx.start(), 120_000);
afterAll(() => fx.stop());

/** Data rows sorted (the tools list a group's partitions in different orders); header lines kept. */
const describeLines = (out: string) => {
  const lines = out.split('\n');
  const isRow = (l: string) => !l.startsWith('GROUP ') && l.trim() !== '';
  return [lines.filter((l) => !isRow(l)), lines.filter(isRow).sort()];
};

describe('CLI conventions', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as {
      version: string;
    };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('a finished command exits with its code even when a driver left a socket open, naming it with --verbose', async () => {
    // What bin/orderbus does after a command returns, with a handle left open as a leaked client would.
    const linger = join(projectRoot(), 'dist', 'bin', 'linger.js');
    const script = `
      import net from 'node:net';
      const { exitWhenDone } = await import(${JSON.stringify(linger)});
      const server = net.createServer().listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      net.connect(server.address().port, '127.0.0.1');
      exitWhenDone(4, true);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(4);
    expect(stderr).toMatch(
      /still open 3000 ms after the command ended: .*server \{.*socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+/,
    );
  });

  it("a finished command exits even when a write is stuck on an unref'd socket (Node would wait for it for good)", async () => {
    // A peer that takes the connection and never reads: the 64 MB write never completes.
    const stalled = createServer((c) => c.pause()).listen(0, '127.0.0.1');
    await new Promise((r) => stalled.once('listening', r));
    const { port } = stalled.address() as AddressInfo;
    const linger = join(projectRoot(), 'dist', 'bin', 'linger.js');
    const script = `
      import net from 'node:net';
      const { exitWhenDone } = await import(${JSON.stringify(linger)});
      const sock = net.connect(${port}, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(Buffer.alloc(64 * 1024 * 1024));
      sock.unref();
      exitWhenDone(4, false);`;
    try {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(4);
    } finally {
      stalled.close();
    }
  });

  it('completion scripts know every command; bash completes commands and options', async () => {
    const bash = await runCli(['completion', 'bash']);
    const zsh = await runCli(['completion', 'zsh']);
    expect(bash.code).toBe(0);
    expect(zsh.stdout).toContain('#compdef orderbus');
    for (const c of ['lag', 'status', 'offsets', 'read', 'dlq', 'replay', 'completion']) {
      expect(bash.stdout).toContain(` ${c}`);
      expect(zsh.stdout).toContain(`'${c}:`);
    }
    const complete = async (words: string[]) => {
      const script = `source /dev/stdin <<'EOS'\n${bash.stdout}\nEOS\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _orderbus; echo "\${COMPREPLY[*]}"`;
      return (await run('bash', ['-c', script])).stdout.trim();
    };
    expect(await complete(['orderbus', 're'])).toBe('replay read');
    expect(await complete(['orderbus', 'offsets', 'reset', '--all'])).toBe('--all-topics');
    expect(await complete(['orderbus', '--verbose', 'dlq', 'p'])).toBe('purge');
    expect((await runCli(['completion', 'fish'])).code).toBe(2);
  });

  it("lag --format kafka prints what Apache's kafka-consumer-groups --describe prints", async () => {
    for (const group of [fx.idle, fx.active]) {
      const ours = await fx.cli(['lag', '--group', group, '--format', 'kafka', '--sample', '0']);
      expect(ours.code, ours.stderr).toBe(0);
      const apache = await run('java', await describeGroupsArgs(fx.config, [group]), { timeout: 60_000 });
      expect(describeLines(ours.stdout)).toEqual(describeLines(apache.stdout));
      expect(ours.stdout.split('\n').filter((l) => l.includes(fx.topic)).length).toBeGreaterThan(1);
    }
  }, 120_000);

  it('lag and status --fail-on exit 1 at or above the level, 0 below it, 2 for a bad level', async () => {
    const status = (await fx.json<LagReport>(['lag', '--group', fx.idle, '--sample', '1'])).groups[0]?.status;
    expect(status).toBe('STOP');
    const code = async (args: string[]) => (await fx.cli(args)).code;
    expect(await code(['lag', '--group', fx.idle, '--sample', '1', '--fail-on', 'STALL'])).toBe(1);
    expect(await code(['lag', '--group', fx.idle, '--sample', '1', '--fail-on', 'err'])).toBe(0);
    expect(await code(['lag', '--group', fx.active, '--sample', '0', '--fail-on', 'WARN'])).toBe(0);
    expect(await code(['lag', '--group', fx.active, '--fail-on', 'LOUD'])).toBe(2);
    expect(await code(['status', '--fail-on', 'LOUD'])).toBe(2);
  }, 90_000);

  it('colour follows FORCE_COLOR into a pipe and NO_COLOR over it; --watch into a pipe clears nothing', async () => {
    const lag = ['lag', '--group', fx.idle, '--sample', '0'];
    expect((await runCli(lag, { env: { NO_COLOR: '' } })).stdout).not.toMatch(ESC);
    expect((await runCli(lag, { env: { NO_COLOR: '', FORCE_COLOR: '1' } })).stdout).toMatch(ESC);
    expect((await runCli(lag, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } })).stdout).not.toMatch(ESC);
    const child = spawn(
      process.execPath,
      [join(projectRoot(), 'bin', 'orderbus'), 'lag', '--group', fx.idle, '--watch', '0.5'],
      { env: { ...process.env, ...fx.env, NO_COLOR: '' } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitUntil('two screens', () => out.split('window ').length > 2, { timeoutMs: 30_000 });
    } finally {
      child.kill('SIGINT');
    }
    expect(out).toContain(fx.idle);
    expect(out).not.toMatch(ESC);
  }, 60_000);
});

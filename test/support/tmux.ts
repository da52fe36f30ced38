import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/paths.js';
import { waitUntil } from './wait.js';

const run = promisify(execFile);

/** The real `orderbus` in a real pseudo-terminal (a detached tmux session), driven by keys. */
export class TmuxSession {
  private constructor(readonly name: string) {}

  static async start(
    name: string,
    args: string[],
    env: Record<string, string>,
    size = { columns: 120, rows: 40 },
  ): Promise<TmuxSession> {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    // An operator's terminal is not a CI job: with CI set, ink renders only the last frame.
    const command = [
      'env',
      '-u',
      'CI',
      ...Object.entries({ NO_COLOR: '1', ...env }).map(([k, v]) => quote(`${k}=${v}`)),
      quote(process.execPath),
      quote(join(projectRoot(), 'bin', 'orderbus')),
      ...args.map(quote),
      // keep the pane open after exit so the last screen (and exit code) can be read
      '; echo "[exited $?]"; sleep 600',
    ].join(' ');
    await run('tmux', [
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(size.columns),
      '-y',
      String(size.rows),
      'sh',
      '-c',
      command,
    ]);
    return new TmuxSession(name);
  }

  async screen(): Promise<string> {
    const { stdout } = await run('tmux', ['capture-pane', '-p', '-t', this.name]);
    return stdout;
  }

  /** Types literal text. */
  async type(text: string): Promise<void> {
    await run('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  /** Presses named keys (Enter, Escape, Up, Down, Tab). */
  async press(...keys: string[]): Promise<void> {
    await run('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  async waitFor(what: string | RegExp, timeoutMs = 30_000): Promise<string> {
    let last = '';
    try {
      return await waitUntil(
        `screen showing ${String(what)}`,
        async () => {
          last = await this.screen();
          return (typeof what === 'string' ? last.includes(what) : what.test(last)) ? last : null;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- last screen ---\n${last}`);
    }
  }

  async kill(): Promise<void> {
    await run('tmux', ['kill-session', '-t', this.name]).catch(() => undefined);
  }
}

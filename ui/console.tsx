import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import React from 'react';
import { render } from 'ink';
import type { OrderbusConfig } from '../src/config.js';
import { App } from './app.js';
import { ThemeProvider } from './components/theme.js';
import { OpsAdapter } from './ops-adapter.js';

/** Opens `text` in $EDITOR (the terminal is handed over while it runs); null when unchanged. */
export function editInEditor(text: string): Promise<string | null> {
  const editor = process.env.VISUAL ?? process.env.EDITOR ?? 'vi';
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-console-'));
  const file = join(dir, 'payload.json');
  writeFileSync(file, text);
  const stdin = process.stdin;
  const raw = stdin.isTTY && stdin.isRaw;
  try {
    if (raw) stdin.setRawMode(false);
    const r = spawnSync(editor, [file], { stdio: 'inherit', shell: true });
    if (r.status !== 0) return Promise.resolve(null);
    const after = readFileSync(file, 'utf8');
    return Promise.resolve(after === text ? null : after);
  } finally {
    if (raw) stdin.setRawMode(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runConsole(
  config: OrderbusConfig,
  options: { refreshMs: number; color: boolean },
): Promise<void> {
  const ops = new OpsAdapter(config);
  // Node keeps user timings (and up to 250 resource timings) until cleared; nothing here reads them.
  const timings = setInterval(() => {
    performance.clearMeasures();
    performance.clearMarks();
    performance.clearResourceTimings();
  }, 30_000);
  timings.unref();
  const instance = render(
    <ThemeProvider color={options.color}>
      <App ops={ops} refreshMs={options.refreshMs} edit={editInEditor} />
    </ThemeProvider>,
    { exitOnCtrlC: true, patchConsole: true },
  );
  try {
    await instance.waitUntilExit();
  } finally {
    clearInterval(timings);
    // q quits: closing the clients gets two seconds, then the process ends regardless of a
    // request still hanging on a broker that stopped answering.
    await Promise.race([ops.close(), new Promise((r) => setTimeout(r, 2000).unref())]);
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  }
}

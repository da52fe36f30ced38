import React from 'react';
import { render } from 'ink';
import type { OrderbusConfig } from '../src/config.js';
import { launchEditor } from '../src/ops/editor.js';
import { App } from './app.js';
import { ThemeProvider } from './components/theme.js';
import { OpsAdapter } from './ops-adapter.js';

/** The `e` key: the payload in the editor (src/ops/editor.ts); null when unchanged or the editor failed. */
export function editInEditor(text: string): Promise<string | null> {
  const after = launchEditor(text, 'payload.json').text;
  return Promise.resolve(after === null || after === text ? null : after);
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

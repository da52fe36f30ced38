import React from 'react';
import { afterEach } from 'vitest';
import { App } from '../../ui/app.js';
import type { DlqMessageView, GroupView } from '../../ui/model.js';
import type { FakeConsoleOps } from './fake-console-ops.js';
import { renderWithProviders } from './render.js';

/** The console on a fake terminal for unit tests: data builders, the app, and waits on the frame. */

export const group = (name: string, status: GroupView['status'], lag: number, members = 2): GroupView => ({
  group: name,
  state: members > 0 ? 'Stable' : 'Empty',
  members,
  status,
  totalLag: lag,
  timeLagMs: lag * 10,
  etaSeconds: lag > 0 ? 12 : null,
  partitions: [0, 1].map((p) => ({
    topic: 'order.events',
    partition: p,
    committed: 100,
    end: 100 + lag / 2,
    lag: lag / 2,
    timeLagMs: 500,
    owner: members > 0 ? `c-${p}` : null,
    status,
  })),
});

export const webhook = (i: number): DlqMessageView => ({
  id: String(i),
  payload: JSON.stringify({ url: `http://partner.test/hooks/v1/orders`, orderId: `o-${i}` }),
  headers: { 'x-error-status': '410' },
  attempts: 1,
  errorClass: 'HttpGone',
  errorMessage: '410 Gone',
  destination: 'orderbus.tasks/webhook.tasks',
});

let cleanup: (() => void) | undefined;
let frameOf: (() => string) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = frameOf = undefined;
});

/** Waits (3 s at most) until `check` holds; the last frame is in the error. */
export async function settle(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${frameOf ? `\n${frameOf()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type ConsoleUnderTest = ReturnType<typeof renderApp>;

/** Types the keys in turn (each string one keypress per character), then waits for `text` on screen. */
export async function step(r: ConsoleUnderTest, keys: string[], text: string): Promise<void> {
  for (const k of keys) await r.press(k);
  await settle(() => r.lastFrame().includes(text), `'${text}'`);
}

/** The console on a fake terminal: unmounted after the test, its frame shown when a wait times out. */
export function renderApp(
  ops: FakeConsoleOps,
  {
    refreshMs = 60_000,
    edit = async () => null,
    ...size
  }: {
    refreshMs?: number;
    edit?: (text: string) => Promise<string | null>;
    columns?: number;
    rows?: number;
  } = {},
) {
  const r = renderWithProviders(<App ops={ops} refreshMs={refreshMs} edit={edit} />, size);
  cleanup = r.unmount;
  frameOf = r.lastFrame;
  return r;
}

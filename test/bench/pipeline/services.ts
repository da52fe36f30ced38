import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { freePort } from '../../../src/devstack/chaos/pipeline.js';
import type { TestPipeline } from '../../support/pipeline.js';
import { waitUntil } from '../../support/wait.js';
import { spawnOrderbus } from './processes.js';

/** The pipeline's HTTP servers as their own `orderbus run` processes, on free ports. */

type ProviderName = 'payment' | 'shipping' | 'email' | 'webhook';

export async function waitHttp(url: string): Promise<void> {
  await waitUntil(`${url} to answer`, async () => (await fetch(url)).ok, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Runs the four providers as their own `orderbus run --service providers` process (free ports;
 * admin port = port + 100) and points every later child at them. In the bench process they would
 * share its event loop with the load generator and a 10-connection pool, and that, not the
 * pipeline, would be what is measured. Returns the admin URLs.
 */
export async function spawnProviders(p: TestPipeline): Promise<Record<ProviderName, string>> {
  const names = ['payment', 'shipping', 'email', 'webhook'] as const;
  const ports: number[] = [];
  while (ports.length < names.length) {
    const port = await freePort();
    if (port + 100 < 65536 && !ports.includes(port) && (await portFree(port + 100))) ports.push(port);
  }
  const admin = {} as Record<ProviderName, string>;
  names.forEach((n, i) => {
    const port = ports[i] as number;
    p.env[`ORDERBUS_${n.toUpperCase()}_URL`] = `http://127.0.0.1:${port}`;
    admin[n] = `http://127.0.0.1:${port + 100}`;
  });
  p.env.ORDERBUS_PARTNER_WEBHOOK_URL = `${p.env.ORDERBUS_WEBHOOK_URL}/hooks/v1`;
  spawnOrderbus(p, ['run', '--service', 'providers']);
  for (const n of names) await waitHttp(`${admin[n]}/health`);
  return admin;
}

/**
 * Starts `services` (checkout-api among them) as one child with checkout on a free port; returns
 * checkout's base URL once healthy, and the child.
 */
export async function spawnCheckout(
  p: TestPipeline,
  services: string[] = ['checkout-api'],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawnOrderbus(p, ['run', ...services.flatMap((s) => ['--service', s])], {
    ORDERBUS_CHECKOUT_PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/health`);
  return { url, child };
}

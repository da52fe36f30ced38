import { createServer, connect, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpFaultProxy } from '../../src/devstack/chaos/tcp-proxy.js';

// Loopback only: an echo server behind the proxy.
let echo: Server | undefined;
let proxy: TcpFaultProxy | undefined;

async function startEcho(): Promise<number> {
  echo = createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo?.listen(0, '127.0.0.1', () => r()));
  const a = echo.address();
  return typeof a === 'object' && a ? a.port : 0;
}

function roundTrip(
  port: number,
  payload: string,
  timeoutMs = 2000,
): Promise<{ data?: string; error?: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ error: 'timeout', ms: Date.now() - t0 });
    }, timeoutMs);
    s.on('connect', () => s.write(payload));
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.length >= payload.length) {
        clearTimeout(timer);
        s.end();
        resolve({ data, ms: Date.now() - t0 });
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ error: e.code ?? e.message, ms: Date.now() - t0 });
    });
  });
}

afterEach(async () => {
  await proxy?.stop();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
});

describe('TcpFaultProxy', () => {
  it('forwards bytes both ways when healthy', async () => {
    proxy = new TcpFaultProxy(0, await startEcho());
    await proxy.start();
    expect((await roundTrip(proxy.port, 'hello')).data).toBe('hello');
    expect(proxy.stats.bytesUp).toBe(5);
  });

  it('adds latency, black-holes, resets and refuses', async () => {
    proxy = new TcpFaultProxy(0, await startEcho());
    await proxy.start();
    const port = proxy.port;
    proxy.setFaults({ latencyMs: 150 });
    const slow = await roundTrip(port, 'x');
    expect(slow.data).toBe('x');
    expect(slow.ms).toBeGreaterThanOrEqual(290); // 150 ms each way

    proxy.setFaults({ blackhole: true });
    expect((await roundTrip(port, 'y', 500)).error).toBe('timeout');

    proxy.setFaults({ reset: true });
    expect((await roundTrip(port, 'z')).error).toBe('ECONNRESET');

    proxy.heal();
    expect((await roundTrip(port, 'ok')).data).toBe('ok');

    await proxy.stop();
    expect((await roundTrip(port, 'n')).error).toBe('ECONNREFUSED');
  });
});

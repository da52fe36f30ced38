import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, isConnectionError, type Pool } from '../../src/adapters/postgres.js';
import { loadConfig } from '../../src/config.js';
import { isTransientDbError } from '../../src/pipeline/outbox.js';

// A "database" on loopback that misbehaves the way a lost server does: it never answers (a
// black hole), or it hangs up. The driver's failures carry only a message; the pool gives them a
// code, which is all isTransientDbError reads.

const servers: Server[] = [];
const sockets = new Set<Socket>();
const pools: Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end().catch(() => undefined);
  await closeServers();
});

/** Closes the fake servers, dropping what they accepted (close() waits for open connections). */
async function closeServers(): Promise<void> {
  for (const s of sockets) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
}

async function fakeServer(onSocket: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

function poolAt(port: number, connectTimeoutMs = 300): Pool {
  const base = loadConfig({ env: {} });
  const pool = createPool({
    ...base,
    database: { ...base.database, url: `postgres://postgres@127.0.0.1:${port}/x`, connectTimeoutMs },
  });
  pools.push(pool);
  return pool;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('the postgres adapter codes the driver connection failures', () => {
  it('a server that never answers: PG_CONNECT_TIMEOUT, transient, a connection error', async () => {
    const pool = poolAt(await fakeServer(() => undefined));
    for (const e of [await failure(pool.query('SELECT 1')), await failure(pool.connect())]) {
      expect((e as { code?: string }).code).toBe('PG_CONNECT_TIMEOUT');
      expect(isTransientDbError(e)).toBe(true);
      expect(isConnectionError(e)).toBe(true);
    }
  });

  it('a server that hangs up: PG_CONNECTION_LOST, through promises and callbacks alike', async () => {
    const pool = poolAt(await fakeServer((s) => s.destroy()));
    const e = await failure(pool.query('SELECT 1'));
    expect((e as { code?: string }).code).toBe('PG_CONNECTION_LOST');
    expect(isTransientDbError(e)).toBe(true);
    const viaCallback = await new Promise((resolve) =>
      pool.query('SELECT 1', (err: unknown) => resolve(err)),
    );
    expect((viaCallback as { code?: string }).code).toBe('PG_CONNECTION_LOST');
  });

  it('a refused connection keeps its socket code', async () => {
    const port = await fakeServer(() => undefined);
    await closeServers();
    const e = await failure(poolAt(port).query('SELECT 1'));
    expect((e as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isTransientDbError(e)).toBe(true);
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postJson } from '../../src/http/json-client.js';

// A real HTTP server on a random port; `handle` gets each request with its connection's number and
// the request's number on that connection.
let server: Server | undefined;
async function serve(
  handle: (req: IncomingMessage, res: ServerResponse, conn: number, nth: number) => void,
): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const perSocket = new WeakMap<Socket, { conn: number; n: number }>();
  server = createServer((req, res) => {
    let s = perSocket.get(req.socket);
    if (!s) {
      s = { conn: ++connections, n: 0 };
      perSocket.set(req.socket, s);
    }
    s.n++;
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      (req as IncomingMessage & { body?: string }).body = body;
      handle(req, res, s.conn, s.n);
    });
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('postJson (the HTTP client of provider calls and the load generator)', () => {
  it('sends the JSON and headers, returns status, text and headers, and reuses the connection', async () => {
    const s = await serve((req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
      res.end(
        JSON.stringify({
          got: JSON.parse((req as IncomingMessage & { body: string }).body) as unknown,
          key: req.headers['idempotency-key'],
          type: req.headers['content-type'],
        }),
      );
    });
    for (let i = 0; i < 3; i++) {
      const a = await postJson(
        `${s.url}/charges`,
        JSON.stringify({ n: i, text: 'é' }),
        { 'idempotency-key': `k${i}` },
        2000,
      );
      expect(a.status).toBe(201);
      expect(a.headers['idempotent-replayed']).toBe('true');
      expect(JSON.parse(a.text)).toEqual({
        got: { n: i, text: 'é' },
        key: `k${i}`,
        type: 'application/json',
      });
    }
    expect(s.connections()).toBe(1);
  });

  it('retries once on a fresh connection when the server drops a kept-alive one as it is reused', async () => {
    const seen: string[] = [];
    const s = await serve((req, res, conn, nth) => {
      seen.push(`conn ${conn} request ${nth}`);
      // What a server closing an idle connection looks like to the client that just reused it.
      if (conn === 1 && nth === 2) return req.socket.destroy();
      res.writeHead(200);
      res.end('{}');
    });
    await postJson(s.url, '{}', { 'idempotency-key': 'a' }, 2000);
    const second = await postJson(s.url, '{}', { 'idempotency-key': 'b' }, 2000);
    expect(second.status).toBe(200);
    expect(seen).toEqual(['conn 1 request 1', 'conn 1 request 2', 'conn 2 request 1']);
  });

  it('does not retry a request on a new connection that fails: the error reaches the caller', async () => {
    let requests = 0;
    const s = await serve((req) => {
      requests++;
      req.socket.destroy();
    });
    await expect(postJson(s.url, '{}', {}, 2000)).rejects.toThrow(/socket hang up/);
    expect(requests).toBe(1);
  });

  it('gives up after the timeout when the server never answers, and when nothing listens', async () => {
    const s = await serve(() => undefined);
    const t0 = Date.now();
    await expect(postJson(s.url, '{}', {}, 300)).rejects.toThrow(/no answer within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(postJson('http://127.0.0.1:1/x', '{}', {}, 2000)).rejects.toThrow(/ECONNREFUSED/);
  });
});

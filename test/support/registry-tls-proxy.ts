import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './secured-kafka.js';

/**
 * The shared stack's real schema registry behind TLS (a certificate of a CA made here by openssl)
 * and basic auth, as a registry of a cluster orderbus did not start is reached: every request
 * without the right credentials is answered 401, every other one is passed to the registry.
 */
export interface RegistryTlsProxy {
  /** The registry's Confluent API through the proxy (https://127.0.0.1:PORT/apis/ccompat/v7). */
  url: string;
  /** The CA that signs the proxy's certificate, and one that does not. */
  caFile: string;
  otherCaFile: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

export async function startRegistryTlsProxy(upstream: string, password: string): Promise<RegistryTlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-registry-tls-'));
  const other = mkdtempSync(join(tmpdir(), 'orderbus-registry-other-ca-'));
  await Promise.all([makeCertificates(dir), makeCertificates(other)]);
  const username = 'orderbus-ops';
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const target = new URL(upstream);
  const server: Server = createServer(
    { key: readFileSync(join(dir, 'broker.key')), cert: readFileSync(join(dir, 'broker.pem')) },
    (req, res) => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401, {
          'www-authenticate': 'Basic realm="registry"',
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ error_code: 401, message: 'Unauthorized' }));
        return;
      }
      const headers = { ...req.headers, host: target.host };
      delete headers.authorization;
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(e.message);
      });
      req.pipe(up);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}${target.pathname}`,
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(other, 'ca.pem'),
    username,
    password,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    },
  };
}

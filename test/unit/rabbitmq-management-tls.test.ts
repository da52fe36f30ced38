import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managementApi } from '../../src/adapters/rabbitmq.js';
import { defaultConfig, type OrderbusConfig } from '../../src/config.js';
import { makeCertificates } from '../support/secured-kafka.js';

/**
 * The management API client over TLS with a private CA (`rabbitmq.tlsCaFile`), against a local
 * HTTPS server whose certificate that CA signed: global fetch cannot take a CA per request.
 */
let server: Server;
let dir: string;
let seen: { url?: string; auth?: string } = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orderbus-mgmt-tls-'));
  await makeCertificates(dir);
  server = createServer(
    { key: readFileSync(join(dir, 'broker.key')), cert: readFileSync(join(dir, 'broker.pem')) },
    (req, res) => {
      seen = { url: req.url, auth: req.headers.authorization };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ rabbitmq_version: '4.0.0', node: 'rabbit@tls' }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
}, 60_000);

afterAll(() => {
  server?.close();
});

const config = (tlsCaFile?: string): OrderbusConfig => {
  const c = defaultConfig();
  const port = (server.address() as AddressInfo).port;
  c.rabbitmq = {
    ...c.rabbitmq,
    managementUrl: `https://ops:s3cret-pw@127.0.0.1:${port}`,
    ...(tlsCaFile ? { tlsCaFile } : {}),
  };
  return c;
};

describe('RabbitMQ management API over TLS', () => {
  it('verifies the server against tlsCaFile and sends basic auth', async () => {
    const o = await managementApi<{ node: string }>(config(join(dir, 'ca.pem')), '/overview');
    expect(o.node).toBe('rabbit@tls');
    expect(seen).toEqual({
      url: '/api/overview',
      auth: `Basic ${Buffer.from('ops:s3cret-pw').toString('base64')}`,
    });
  });

  it('refuses a server the configured CAs do not vouch for, naming the host and not the password', async () => {
    const e = (await managementApi(config(), '/overview').then(
      () => undefined,
      (err: unknown) => err,
    )) as Error;
    expect(e).toMatchObject({ code: 'RABBITMQ_TLS_FAILED' });
    expect(e.message).toMatch(
      /127\.0\.0\.1:\d+ refused the TLS connection: .*(self-signed|unable to verify|local issuer)/i,
    );
    expect(e.message).not.toContain('s3cret-pw');
  });
});

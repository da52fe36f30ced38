import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDrillRabbit } from './chaos-stack.js';
import { makeCertificates } from './secured-kafka.js';

/**
 * A private RabbitMQ node that also speaks TLS: AMQP on amqps:// and the management API on https://,
 * both with a certificate of a CA made here by openssl (startDrillRabbit with ssl_options and
 * management.ssl settings). `env` points orderbus at the TLS listeners with that CA.
 */
export interface TlsRabbit {
  env: Record<string, string>;
  /** The CA that signs the node's certificate, and one that does not. */
  caFile: string;
  otherCaFile: string;
  stop(): Promise<void>;
}

/** Plain AMQP on `amqpPort` (management + 10000), AMQP over TLS 10 below each. */
export async function startTlsRabbit(amqpPort: number): Promise<TlsRabbit> {
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-rabbit-tls-'));
  const other = mkdtempSync(join(tmpdir(), 'orderbus-rabbit-other-ca-'));
  await Promise.all([makeCertificates(dir), makeCertificates(other)]);
  // The node runs as the rabbitmq user when started by root: it must read them (test keys only).
  chmodSync(dir, 0o755);
  for (const f of ['ca.pem', 'broker.pem', 'broker.key']) chmodSync(join(dir, f), 0o644);
  const tlsPort = amqpPort - 10;
  const managementTlsPort = amqpPort + 10_000 - 10;
  const files = (prefix: string) => [
    `${prefix}.cacertfile = ${join(dir, 'ca.pem')}`,
    `${prefix}.certfile = ${join(dir, 'broker.pem')}`,
    `${prefix}.keyfile = ${join(dir, 'broker.key')}`,
  ];
  const rabbit = await startDrillRabbit(amqpPort, {
    conf: [
      `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
      ...files('ssl_options'),
      'ssl_options.verify = verify_none',
      'ssl_options.fail_if_no_peer_cert = false',
      `management.ssl.port = ${managementTlsPort}`,
      'management.ssl.ip = 127.0.0.1',
      ...files('management.ssl'),
    ],
  });
  return {
    env: {
      ...rabbit.env,
      ORDERBUS_RABBITMQ_URL: `amqps://guest:guest@127.0.0.1:${tlsPort}`,
      ORDERBUS_RABBITMQ_MANAGEMENT_URL: `https://guest:guest@127.0.0.1:${managementTlsPort}`,
      ORDERBUS_AMQP_TLS_CA_FILE: join(dir, 'ca.pem'),
    },
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(other, 'ca.pem'),
    async stop() {
      await rabbit.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    },
  };
}

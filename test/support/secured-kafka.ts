import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';
import {
  formatStorage,
  newClusterId,
  startKafkaNode,
  waitForCluster,
} from '../../src/devstack/stack/kafka-cluster.js';
import { execFileAsync, processAlive, stopProcess } from '../../src/devstack/stack/processes.js';
import type { KafkaNodeState } from '../../src/devstack/stack/state.js';

/**
 * A private one-node Kafka that only talks SASL_SSL: SCRAM-SHA-512 (the user is created when the
 * storage is formatted, as KRaft requires) over TLS with a self-signed CA and required client
 * certificates (mTLS). Started with the launcher's startKafkaNode; the brokers talk to each other
 * on a plaintext listener of their own that clients never see.
 */
export interface SecuredKafka {
  /** The SASL_SSL bootstrap address. */
  broker: string;
  clusterId: string;
  dir: string;
  /** PEM files: the CA, and the client's certificate and key. */
  caFile: string;
  certFile: string;
  keyFile: string;
  username: string;
  password: string;
  /** The shared stack's config pointed at this cluster with its TLS and SASL settings. */
  config: OrderbusConfig;
  stop(): Promise<void>;
}

const STORE_PASSWORD = 'changeit';

/** Runs openssl in `dir` with `args` split on spaces (none of them holds one). */
async function openssl(dir: string, args: string): Promise<void> {
  await execFileAsync('openssl', args.split(' '), { cwd: dir });
}

/** A CA, a broker certificate for 127.0.0.1/localhost and a client certificate, all PEM (+ a PKCS12 keystore). */
export async function makeCertificates(dir: string): Promise<void> {
  await openssl(
    dir,
    'req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=orderbus-test-ca',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['broker', 'client']) {
    await openssl(dir, `req -newkey rsa:2048 -nodes -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`);
    await openssl(
      dir,
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem -days 2 -extfile san.ext`,
    );
  }
  await openssl(
    dir,
    `pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 -passout pass:${STORE_PASSWORD}`,
  );
}

function serverProperties(dir: string, port: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${port + 1}`,
    `listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 1},INTERNAL://127.0.0.1:${port + 2}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${port},INTERNAL://127.0.0.1:${port + 2}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=INTERNAL',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${join(dir, 'broker.p12')}`,
    `ssl.keystore.password=${STORE_PASSWORD}`,
    `ssl.key.password=${STORE_PASSWORD}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${join(dir, 'ca.pem')}`,
    'ssl.client.auth=required',
    `log.dirs=${join(dir, 'node-1', 'data')}`,
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

export async function startSecuredKafka(port: number): Promise<SecuredKafka> {
  const base = loadConfig();
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-secured-kafka-'));
  const nodeDir = join(dir, 'node-1');
  mkdirSync(nodeDir, { recursive: true });
  await makeCertificates(dir);
  const libs = await ensureKafkaJars(base.stack.kafkaVersion, () => undefined);
  const username = 'ops';
  const password = `ops-${randomBytes(9).toString('hex')}`;
  const cfg = join(nodeDir, 'server.properties');
  writeFileSync(cfg, serverProperties(dir, port));
  const clusterId = await newClusterId(libs);
  // startKafkaNode reads log4j.properties from the node directory's parent: dir.
  await formatStorage(libs, dir, cfg, clusterId, [
    '--add-scram',
    `SCRAM-SHA-512=[name=${username},password=${password}]`,
  ]);
  const node: KafkaNodeState = await startKafkaNode(
    { nodeId: 1, port, controllerPort: port + 1, dir: nodeDir },
    libs,
    512,
  );
  const files = {
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'client.pem'),
    keyFile: join(dir, 'client.key'),
  };
  const config: OrderbusConfig = {
    ...base,
    kafka: {
      ...base.kafka,
      brokers: [`127.0.0.1:${port}`],
      ssl: { enabled: true, ...files, rejectUnauthorized: true },
      sasl: { mechanism: 'scram-sha-512', username, password },
    },
  };
  const stop = async () => {
    if (processAlive(node.pid)) await stopProcess(node.pid, 15000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForCluster(config, [node], 90_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { broker: `127.0.0.1:${port}`, clusterId, dir, ...files, username, password, config, stop };
}

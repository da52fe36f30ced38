import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import {
  createOnce,
  failedFile,
  KAFKA_4,
  startedFile,
  type Kafka4Claim,
  type StartedBroker,
} from './shared-kafka4-claim.js';
import { startPrivateKafka } from './private-kafka.js';
import { waitUntil } from './wait.js';

/**
 * One Kafka 4.x broker for a whole integration run, beside the stack's 3.9: the files that run the
 * operations against 4.x share it. The global setup (kafka4-global-setup.ts) claims its ports —
 * machine-wide, since several runs can share the machine — and gives the run a directory; the
 * first file that asks starts the broker (a lock file in that directory decides which), the others
 * wait for it, and the global teardown stops it. A run none of whose files ask never starts one.
 */
export { KAFKA_4 };

/** The shared broker's address (known before it starts). */
export function kafka4Brokers(): string[] {
  return [`127.0.0.1:${inject('sharedKafka4').basePort}`];
}

/** The configuration of a client of the shared 4.x broker (its tools are 4.x's). */
export function kafka4Config(): OrderbusConfig {
  const base = loadConfig();
  return {
    ...base,
    kafka: { ...base.kafka, brokers: kafka4Brokers() },
    stack: { ...base.stack, kafkaVersion: KAFKA_4 },
    topics: { ...base.topics, replicationFactor: 1 },
  };
}

/** The environment that points the CLI at the shared 4.x broker and the stack's schema registry. */
export function kafka4Env(): Record<string, string> {
  return {
    ORDERBUS_KAFKA_BROKERS: kafka4Brokers().join(','),
    ORDERBUS_REGISTRY_URL: loadConfig().registry.url,
  };
}

let ready: Promise<void> | undefined;

/** Starts the shared 4.x broker unless another file of the run did; resolves once it is up. */
export function sharedKafka4(): Promise<void> {
  ready ??= startOrWait(inject('sharedKafka4'));
  return ready;
}

async function startOrWait(claim: Kafka4Claim): Promise<void> {
  if (createOnce(join(claim.runDir, 'start.lock'), String(process.pid))) {
    try {
      const k = await startPrivateKafka(1, claim.basePort, KAFKA_4);
      const started: StartedBroker = { brokers: k.brokers, pids: k.nodes.map((n) => n.pid), dir: k.dir };
      writeFileSync(startedFile(claim.runDir), JSON.stringify(started));
      return;
    } catch (e) {
      writeFileSync(failedFile(claim.runDir), e instanceof Error ? e.message : String(e));
      throw e;
    }
  }
  const outcome = await waitUntil(
    `the shared Kafka ${KAFKA_4} broker another test file is starting`,
    () =>
      (existsSync(failedFile(claim.runDir)) && 'failed') ||
      (existsSync(startedFile(claim.runDir)) && 'started'),
    { timeoutMs: 170_000, intervalMs: 250 },
  );
  if (outcome === 'failed')
    throw new Error(
      `the shared Kafka ${KAFKA_4} broker failed to start: ${readFileSync(failedFile(claim.runDir), 'utf8')}`,
    );
}

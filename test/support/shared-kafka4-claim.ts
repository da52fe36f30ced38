import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen } from '../../src/net.js';
import { processAlive, stopProcess } from '../../src/devstack/stack/processes.js';

/**
 * The shared Kafka 4.x broker's ports and run directory (see shared-kafka4.ts), without vitest's
 * test API: the global setup, which runs outside the test workers, imports this part.
 */
export const KAFKA_4 = '4.4.0'; // the newest 4.x Maven Central served (4.4.1 and 4.5.0 did not resolve)

/** What the global setup hands the test files. */
export interface Kafka4Claim {
  runDir: string;
  basePort: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sharedKafka4: Kafka4Claim;
  }
}

/** What the starting file leaves for the others and for the teardown. */
export interface StartedBroker {
  brokers: string[];
  pids: number[];
  dir: string;
}

const FIRST_PORT = 20292;
const PORT_PAIRS = 20;
const claimFile = (port: number) => join(tmpdir(), `orderbus-test-kafka4-${port}.claim`);
export const startedFile = (runDir: string) => join(runDir, 'broker.json');
export const failedFile = (runDir: string) => join(runDir, 'failed');

/** Creates `file` holding `content` unless it exists; whether this call created it. */
export function createOnce(file: string, content: string): boolean {
  try {
    writeFileSync(file, content, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * The global setup's part: a free port pair (broker, controller), claimed with a file naming this
 * process. A claim whose process is gone is taken over when its ports are free.
 */
export async function claimKafka4(): Promise<Kafka4Claim> {
  for (let i = 0; i < PORT_PAIRS; i++) {
    const basePort = FIRST_PORT + 2 * i;
    const file = claimFile(basePort);
    const free = async () => !(await portOpen(basePort)) && !(await portOpen(basePort + 1));
    if (!(await free())) continue;
    if (!createOnce(file, String(process.pid))) {
      if (processAlive(Number(readFileSync(file, 'utf8')))) continue;
      rmSync(file, { force: true });
      if (!createOnce(file, String(process.pid))) continue;
    }
    const runDir = join(tmpdir(), `orderbus-test-kafka4-${process.pid}-${basePort}`);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    return { runDir, basePort };
  }
  throw new Error(
    `no free port pair for the shared Kafka ${KAFKA_4} broker in ${FIRST_PORT}-${FIRST_PORT + 2 * PORT_PAIRS - 1}: ` +
      `see ${tmpdir()}/orderbus-test-kafka4-*.claim and \`ss -ltnp\``,
  );
}

/** The global teardown's part: stops the broker if a file started it, and releases the claim. */
export async function releaseKafka4(claim: Kafka4Claim): Promise<void> {
  const file = startedFile(claim.runDir);
  if (existsSync(file)) {
    const b = JSON.parse(readFileSync(file, 'utf8')) as StartedBroker;
    await Promise.all(
      b.pids.map((pid) => (processAlive(pid, b.dir) ? stopProcess(pid, 15000) : Promise.resolve())),
    );
    rmSync(b.dir, { recursive: true, force: true });
  }
  rmSync(claim.runDir, { recursive: true, force: true });
  rmSync(claimFile(claim.basePort), { force: true });
}

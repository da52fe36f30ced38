import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrderbusConfig } from '../../src/config.js';
import { ensureRegistry } from '../../src/devstack/stack/artifacts.js';
import {
  dropDatabase,
  ensureDatabase,
  registryDatabaseName,
} from '../../src/devstack/stack/postgres-setup.js';
import { processAlive, stopProcess } from '../../src/devstack/stack/processes.js';
import { startRegistry, waitForRegistry } from '../../src/devstack/stack/registry-process.js';
import { portOpen } from '../../src/net.js';
import { waitUntil } from './wait.js';

/**
 * A schema registry of its own (port, data directory, storage database), started with the same
 * launcher code as `orderbus stack up`, for tests that kill or restart the registry without
 * disturbing the shared one.
 */
export interface PrivateRegistry {
  config: OrderbusConfig;
  kill(signal?: NodeJS.Signals): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRegistry(
  base: OrderbusConfig,
  namespace: string,
  port: number,
): Promise<PrivateRegistry> {
  const db = new URL(base.database.url);
  db.pathname = `/${namespace.replace(/-/g, '_')}`;
  const config: OrderbusConfig = {
    ...base,
    database: { ...base.database, url: db.toString() },
    registry: { url: `http://127.0.0.1:${port}/apis/ccompat/v7` },
  };
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-registry-'));
  const jar = await ensureRegistry(base.stack.registryVersion, () => undefined);
  await ensureDatabase(config, registryDatabaseName(config));
  let pid = 0;
  const start = async () => {
    // A killed JVM takes a moment to exit and release its port.
    if (pid)
      await waitUntil(
        'the old registry process to exit',
        async () => !processAlive(pid) && !(await portOpen(port)),
      );
    const r = await startRegistry(config, jar, dir);
    pid = r.pid;
    await waitForRegistry(config, r.pid, r.logFile, 120_000);
  };
  await start();
  return {
    config,
    kill(signal = 'SIGKILL') {
      if (processAlive(pid)) process.kill(pid, signal);
    },
    start,
    async stop() {
      if (processAlive(pid)) await stopProcess(pid);
      rmSync(dir, { recursive: true, force: true });
      await dropDatabase(config, registryDatabaseName(config));
    },
  };
}

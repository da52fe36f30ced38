import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { portOpen } from '../../net.js';
import { ensureRegistry } from '../stack/artifacts.js';
import { dropDatabase, ensureDatabase, registryDatabaseName } from '../stack/postgres-setup.js';
import { processAlive, startedOrStopped, stopProcess, waitFor } from '../stack/processes.js';
import { startRegistry, waitForRegistry } from '../stack/registry-process.js';
import { freePort } from './pipeline.js';

/**
 * A schema registry of its own (port, data directory, storage database on the shared
 * PostgreSQL), started with the same launcher code as `orderbus stack up`, for the registry drill
 * and for tests that kill or restart the registry without disturbing the shared one.
 */
export class PrivateRegistry {
  private pid = 0;

  private constructor(
    /** The base config pointed at this registry (and at its storage database's name). */
    readonly config: OrderbusConfig,
    private readonly jar: string,
    private readonly dir: string,
  ) {}

  get port(): number {
    return Number(new URL(this.config.registry.url).port);
  }

  /** `name` names the storage database (`<name>_registry`); `port` defaults to a free one. */
  static async start(base: OrderbusConfig, name: string, port?: number): Promise<PrivateRegistry> {
    const db = new URL(base.database.url);
    db.pathname = `/${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
    const config: OrderbusConfig = {
      ...base,
      database: { ...base.database, url: db.toString() },
      registry: { ...base.registry, url: `http://127.0.0.1:${port ?? (await freePort())}/apis/ccompat/v7` },
    };
    const jar = await ensureRegistry(base.stack.registryVersion, () => undefined);
    await ensureDatabase(config, registryDatabaseName(config));
    const r = new PrivateRegistry(config, jar, mkdtempSync(join(tmpdir(), 'orderbus-registry-')));
    return startedOrStopped(r, (x) => x.restart());
  }

  /** Starts the process again (after `kill`) and waits until it answers. */
  async restart(): Promise<void> {
    // A killed JVM takes a moment to exit and release its port.
    const old = this.pid;
    if (old)
      await waitFor(
        'the old registry process to exit',
        async () => !processAlive(old) && !(await portOpen(this.port)),
        {
          timeoutMs: 30_000,
          onTimeout: () => new OrderbusError('REGISTRY_STILL_RUNNING', `registry pid ${old} did not exit`),
        },
      );
    const r = await startRegistry(this.config, this.jar, this.dir);
    this.pid = r.pid;
    await waitForRegistry(this.config, r.pid, r.logFile, 120_000);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (processAlive(this.pid)) process.kill(this.pid, signal);
  }

  /** `config` with this registry as the schema registry (the services' config in the drill). */
  serviceConfig(config: OrderbusConfig): OrderbusConfig {
    return { ...config, registry: { ...config.registry, url: this.config.registry.url } };
  }

  /** The drill's own checks use the services' registry too. */
  directConfig(config: OrderbusConfig): OrderbusConfig {
    return this.serviceConfig(config);
  }

  /** Stops the process and removes its data directory and storage database. */
  async stop(): Promise<void> {
    if (processAlive(this.pid)) await stopProcess(this.pid);
    rmSync(this.dir, { recursive: true, force: true });
    await dropDatabase(this.config, registryDatabaseName(this.config));
  }
}

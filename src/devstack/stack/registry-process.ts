import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { childEnv, type OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { registryHealthy } from '../../adapters/registry.js';
import { registryDatabaseName } from './postgres-setup.js';
import { portOpen } from '../../net.js';
import { portOwner, processAlive, spawnDetached, waitFor } from './processes.js';

export const REGISTRY_MARKER = 'apicurio-registry-app';

export function registryPort(config: OrderbusConfig): number {
  const u = new URL(config.registry.url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** Starts Apicurio Registry (SQL storage on the stack's PostgreSQL) unless ours is running. */
export async function startRegistry(
  config: OrderbusConfig,
  jar: string,
  dataDir: string,
  current?: { pid: number; port: number; logFile: string },
): Promise<{ pid: number; port: number; logFile: string }> {
  const port = registryPort(config);
  if (current && processAlive(current.pid, REGISTRY_MARKER)) return current;
  if (await portOpen(port)) {
    const owner = await portOwner(port);
    throw new OrderbusError(
      'PORT_IN_USE',
      `port ${port} (schema registry) is already taken by ${owner ?? 'another process'} that orderbus did not start`,
      {
        hint: `stop that process (or set ORDERBUS_REGISTRY_URL to a registry you run), then orderbus stack up`,
        subject: `127.0.0.1:${port}`,
      },
    );
  }
  const dir = join(dataDir, 'registry');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'registry.log');
  const pid = spawnDetached(
    'java',
    [
      '-Xms128m',
      '-Xmx512m',
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.host=127.0.0.1',
      '-Dquarkus.log.level=WARN',
      ...sqlStorageOptions(config),
      '-jar',
      jar,
    ],
    logFile,
    dirname(jar),
    childEnv({ APICURIO_DATASOURCE_PASSWORD: decodeURIComponent(new URL(config.database.url).password) }),
  );
  return { pid, port, logFile };
}

export async function waitForRegistry(
  config: OrderbusConfig,
  pid: number,
  logFile: string,
  timeoutMs: number,
): Promise<{ version?: string }> {
  return waitFor(
    'registry',
    async () => {
      if (!processAlive(pid)) {
        throw new OrderbusError('REGISTRY_START_FAILED', 'the schema registry exited during start-up', {
          hint: `less ${logFile}`,
        });
      }
      return registryHealthy(config);
    },
    {
      timeoutMs,
      intervalMs: 500,
      onTimeout: () =>
        new OrderbusError(
          'REGISTRY_START_TIMEOUT',
          `the schema registry did not become ready within ${timeoutMs / 1000}s`,
          { hint: `less ${logFile}` },
        ),
    },
  );
}

/**
 * Apicurio's SQL storage on the stack's PostgreSQL (property names from the app's own
 * application.properties): schemas and their ids outlive the registry process. The password goes
 * through the environment (Quarkus maps APICURIO_DATASOURCE_PASSWORD), not the command line.
 */
export function sqlStorageOptions(config: OrderbusConfig): string[] {
  const u = new URL(config.database.url);
  const jdbc = `jdbc:postgresql://${u.hostname}:${u.port || '5432'}/${registryDatabaseName(config)}`;
  return [
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=postgresql',
    `-Dapicurio.datasource.url=${jdbc}`,
    `-Dapicurio.datasource.username=${decodeURIComponent(u.username) || 'postgres'}`,
    // A small pool: the registry shares the server with the pipeline (max_connections).
    '-Dapicurio.datasource.jdbc.initial-size=2',
    '-Dapicurio.datasource.jdbc.min-size=2',
    '-Dapicurio.datasource.jdbc.max-size=10',
  ];
}

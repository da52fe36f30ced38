import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { registryHealthy } from '../../adapters/registry.js';
import { portOpen } from '../../net.js';
import { portOwner, processAlive, spawnDetached, waitFor } from './processes.js';

export const REGISTRY_MARKER = 'apicurio-registry-app';

export function registryPort(config: OrderbusConfig): number {
  const u = new URL(config.registry.url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** Starts Apicurio Registry (in-memory storage) unless ours is running. */
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
      '-jar',
      jar,
    ],
    logFile,
    dirname(jar),
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

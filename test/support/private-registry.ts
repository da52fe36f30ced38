import type { OrderbusConfig } from '../../src/config.js';
import { PrivateRegistry as Registry } from '../../src/devstack/chaos/private-registry.js';

/**
 * A schema registry of its own (port, data directory, storage database), started with the same
 * launcher code as `orderbus stack up`, for tests that kill or restart the registry without
 * disturbing the shared one. The registry drill uses the same class.
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
  const r = await Registry.start(base, namespace, port);
  return {
    config: r.config,
    kill: (signal) => r.kill(signal),
    start: () => r.restart(),
    stop: () => r.stop(),
  };
}

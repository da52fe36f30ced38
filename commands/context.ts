import type { Command } from 'commander';
import { loadConfig, type OrderbusConfig } from '../src/config.js';

/** The effective config for a command: global flags override file and environment. */
export function configFrom(cmd: Command): OrderbusConfig {
  const root = cmd.optsWithGlobals<{ config?: string; bootstrapServer?: string }>();
  const flags: Record<string, unknown> = {};
  if (root.bootstrapServer) flags['kafka.brokers'] = root.bootstrapServer;
  return loadConfig({ ...(root.config ? { file: root.config } : {}), flags });
}

/** Opens the terminal console (wired in bin/, so commands never import ui/). */
export type OpenConsole = (
  config: OrderbusConfig,
  options: { refreshMs: number; color: boolean },
) => Promise<void>;

export interface CommandDeps {
  openConsole: OpenConsole;
}

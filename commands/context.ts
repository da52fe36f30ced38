import type { Command } from 'commander';
import {
  configOptionsFromFlags,
  loadConfig,
  type GlobalConfigFlags,
  type OrderbusConfig,
} from '../src/config.js';
import type { OpsContext } from '../src/ops/context.js';

/** The effective config for a command: global flags override file and environment. */
export function configFrom(cmd: Command): OrderbusConfig {
  return loadConfig(configOptionsFromFlags(cmd.optsWithGlobals<GlobalConfigFlags>()));
}

/**
 * Runs one ops call with a context for the command's effective config, closed afterwards. The ops
 * module is loaded here, in the action, so `orderbus --help` loads no driver.
 */
export async function withCommandOps<T>(cmd: Command, fn: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const config = configFrom(cmd);
  const { withOps } = await import('../src/ops/context.js');
  return withOps(config, fn);
}

/** Opens the terminal console (wired in bin/, so commands never import ui/). */
export type OpenConsole = (
  config: OrderbusConfig,
  options: { refreshMs: number; color: boolean },
) => Promise<void>;

export interface CommandDeps {
  openConsole: OpenConsole;
}

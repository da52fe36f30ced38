import type { Command } from 'commander';
import { defineChaos } from './chaos.js';
import { defineConfig } from './config.js';
import type { CommandDeps } from './context.js';
import { defineConsole } from './console.js';
import { defineDemo } from './demo.js';
import { defineDlq } from './dlq.js';
import { defineLag } from './lag.js';
import { defineOffsets, defineReplay } from './offsets.js';
import { defineTrace } from './trace.js';
import { defineLoad } from './load.js';
import { defineProviders } from './providers.js';
import { defineRun } from './run.js';
import { defineStack } from './stack.js';

/**
 * Every command is registered here, in one place. Each command module declares its options and
 * imports its ops function lazily inside the action, so `orderbus --help` loads no driver.
 */
export function registerCommands(program: Command, deps: CommandDeps): void {
  defineStack(program);
  defineConfig(program);
  defineRun(program);
  defineLoad(program);
  defineProviders(program);
  defineLag(program);
  defineDlq(program);
  defineOffsets(program);
  defineReplay(program);
  defineTrace(program);
  defineConsole(program, deps.openConsole);
  defineDemo(program, deps.openConsole);
  defineChaos(program);
}

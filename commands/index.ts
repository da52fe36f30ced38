import type { Command } from 'commander';
import { defineChaos } from './chaos.js';
import { defineConfig } from './config.js';
import { defineContext } from './contexts.js';
import type { CommandDeps } from './context.js';
import { defineConsole } from './console.js';
import { defineDemo } from './demo.js';
import { defineDlq } from './dlq.js';
import { defineAudit } from './audit.js';
import { defineCompletion } from './completion.js';
import { addExamples } from './examples.js';
import { defineLag } from './lag.js';
import { defineLoad } from './load.js';
import { defineMetrics } from './metrics.js';
import { defineOffsets } from './offsets.js';
import { defineProviders } from './providers.js';
import { defineQueues } from './queues.js';
import { defineRead } from './read.js';
import { defineReplay } from './replay.js';
import { defineRun } from './run.js';
import { defineStack } from './stack.js';
import { defineStatus } from './status.js';
import { defineTrace } from './trace.js';

/**
 * Every command is registered here, in one place, one module per command. Each declares its
 * options and imports its ops function lazily inside the action, so `orderbus --help` loads no
 * driver.
 */
export function registerCommands(program: Command, deps: CommandDeps): void {
  defineStack(program);
  defineConfig(program);
  defineContext(program);
  defineRun(program);
  defineLoad(program);
  defineProviders(program);
  defineLag(program);
  defineQueues(program);
  defineStatus(program);
  defineMetrics(program);
  defineDlq(program);
  defineOffsets(program);
  defineReplay(program);
  defineRead(program);
  defineTrace(program);
  defineAudit(program);
  defineConsole(program, deps.openConsole);
  defineDemo(program, deps.openConsole);
  defineChaos(program);
  defineCompletion(program);
  addExamples(program);
}

import type { Benchmark } from '../harness.js';
import { bigClusterBench } from './big-cluster-bench.js';
import { consoleBench } from './console-memory.js';
import { dlqScaleBench } from './dlq-scale.js';
import { lagBench } from './lag.js';
import { redriveBench } from './redrive.js';
import { replayBench } from './replay.js';
import { tasksBench } from './tasks.js';
import { traceBench } from './trace.js';

/**
 * Benchmarks of the ops commands, each run as an operator runs it (the compiled CLI, node
 * start-up included) beside a reference measured in the same run; and the task workers.
 */
export const OPS_BENCHMARKS: Benchmark[] = [
  lagBench,
  redriveBench,
  replayBench,
  consoleBench,
  tasksBench,
  traceBench,
  dlqScaleBench,
  bigClusterBench,
];

import type { Benchmark } from './harness.js';
import { OPS_BENCHMARKS } from './ops/index.js';
import { PIPELINE_BENCHMARKS } from './pipeline/index.js';

/** Every benchmark `npm run bench` knows, in the order they run. Add new ones here. */
export const BENCHMARKS: Benchmark[] = [...PIPELINE_BENCHMARKS, ...OPS_BENCHMARKS];

import type { Benchmark } from './harness.js';
import { OPS_BENCHMARKS } from './ops.js';

/** Every benchmark `npm run bench` knows, in the order they run. Add new ones here. */
export const BENCHMARKS: Benchmark[] = [...OPS_BENCHMARKS];

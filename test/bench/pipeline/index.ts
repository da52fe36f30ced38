import type { Benchmark } from '../harness.js';
import { checkoutDbBenchmark } from './checkout-db.js';
import { checkoutStallBenchmark } from './checkout-stall.js';
import { checkoutBenchmark } from './checkout.js';
import { e2eBenchmark } from './e2e.js';
import { memoryBenchmark } from './memory-run.js';
import { outboxBenchmark } from './outbox.js';
import { soakBenchmark } from './soak.js';

/**
 * The pipeline half of the benchmarks: end to end, checkout, outbox → Kafka, and the memory of
 * `orderbus run`. Each benchmark gets its own namespace (startTestPipeline) and runs the services
 * as real `orderbus run` child processes, as in production; the providers answer at zero latency.
 */
export const PIPELINE_BENCHMARKS: Benchmark[] = [
  e2eBenchmark(),
  checkoutBenchmark(),
  checkoutDbBenchmark(),
  outboxBenchmark(),
  memoryBenchmark(),
  checkoutStallBenchmark(),
  soakBenchmark(),
];

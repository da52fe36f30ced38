import type { ChildProcess } from 'node:child_process';
import { connectAdmin } from '../../../src/adapters/kafka.js';
import { CORE, startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import type { Benchmark, Sample } from '../harness.js';
import { chainSustained } from './chain.js';
import { e2eRun } from './e2e-run.js';
import { renice, spawnOrderbus, stopChild, supervisedBenchmark } from './processes.js';
import { warmUp } from './progress.js';
import { spawnCheckout, spawnProviders } from './services.js';
import { consumerNice, E2E_LAYOUTS, E2E_RATE, E2E_SECONDS, RUNS, type E2eLayout } from './settings.js';
import { measureIdle, type SustainedResult } from './sustained.js';

/**
 * e2e: orders from checkout to shipping.created at one offered rate held for E2E_SECONDS
 * (default 500/s for 2 minutes): completions per 10 s window against the offered rate, the
 * backlog half-way and at the end, latency. Reference, same run and rate: the bare-kafkajs chain.
 */

const cmd = 'npm run bench -- e2e';
/**
 * Nice 0 by default: on a machine shared with other work a lower priority starves the consumers
 * against that work, not only against checkout (settings.ts).
 */
const CONSUMER_NICE = consumerNice('0');
const CONSUMERS = CORE.filter((n) => n !== 'checkout-api');

const LAYOUT_TEXT: Record<E2eLayout, string> = {
  each: 'one `orderbus run --service X` process per core service',
  one: 'the core consumers (relay, payment, inventory, shipping, saga) in one `orderbus run` process, checkout-api in its own',
};

/** The core consumers as `layout` says: a process each, or all of them in one. */
function spawnConsumers(p: TestPipeline, layout: E2eLayout): ChildProcess[] {
  return layout === 'one'
    ? [spawnOrderbus(p, ['run', ...CONSUMERS.flatMap((s) => ['--service', s])])]
    : CONSUMERS.map((s) => spawnOrderbus(p, ['run', '--service', s]));
}

export function e2eBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  let url = '';
  let runNo = 0;
  let consumers: ChildProcess[] = [];
  let layout: E2eLayout = E2E_LAYOUTS[0] ?? 'one';
  // The cluster the figures came from, as its controller reports it (read in setup).
  let cluster = "the stack's Kafka";
  return supervisedBenchmark({
    name: 'e2e',
    get description() {
      const layouts = E2E_LAYOUTS.map((l) => LAYOUT_TEXT[l]).join(', alternating run by run with ');
      return `orders from POST /api/checkout to shipping.created: 12 partitions on ${cluster}, ${layouts} (the consumers and the relay at nice ${CONSUMER_NICE.join(' / ')}), providers at zero latency; ${E2E_RATE} orders/s offered for ${E2E_SECONDS} s (ORDERBUS_BENCH_E2E_RATE, ORDERBUS_BENCH_E2E_SECONDS), completions counted per 10 s window, then drained; reference, same run and rate: the four hops (payment, inventory, shipping, saga) as bare kafkajs consumers that produce the next event (one process each, acks=all) with no database, providers or registry, fed by a producer in the benchmark`;
    },
    runs: RUNS,
    async setup() {
      p = await startTestPipeline({ label: 'bench-e2e', partitions: 12 });
      cluster = await describeBrokers(p);
      await spawnProviders(p);
      url = (await spawnCheckout(p)).url;
      consumers = spawnConsumers(p, layout);
      await warmUp(p, url);
    },
    async cleanup() {
      await p?.stop();
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const nice = CONSUMER_NICE[runNo % CONSUMER_NICE.length] ?? 0;
      const want = E2E_LAYOUTS[runNo % E2E_LAYOUTS.length] ?? 'one';
      if (want !== layout) {
        // Stopped gracefully (their groups left, offsets committed), then the other layout, warmed.
        await Promise.all(consumers.map(stopChild));
        layout = want;
        consumers = spawnConsumers(p, layout);
        await warmUp(p, url);
      }
      if (!consumers.every((c) => renice(c, nice)))
        throw new Error("could not set the consumers' nice value");
      process.stderr.write(
        `    run ${runNo + 1}: consumers ${layout === 'one' ? 'in one process' : 'a process each'} at nice ${nice}\n`,
      );
      const ours = await e2eRun(p, url, E2E_RATE, await measureIdle('pipeline'));
      // The reference, right after on the same machine (the pipeline's processes idle meanwhile):
      // the bare chain on its own topic, same rate and time, drained, then stopped.
      const ref = await chainSustained(p, `${p.ns}.chain-${++runNo}`, E2E_RATE);
      return e2eFigures(ours, ref);
    },
  });
}

/** "3 Kafka brokers (replication factor 3, acks=all)": what the figures depend on most after the CPU. */
async function describeBrokers(p: TestPipeline): Promise<string> {
  const admin = await connectAdmin(p.config);
  try {
    const { brokers } = await admin.describeCluster();
    const n = brokers.length;
    return `${n} Kafka broker${n === 1 ? '' : 's'} (replication factor ${p.config.topics.replicationFactor}, acks=all)`;
  } finally {
    await admin.disconnect();
  }
}

function e2eFigures(ours: SustainedResult, ref: SustainedResult): Sample[] {
  const refName = 'bare kafkajs chain, same 4 hops, no database or providers, same rate';
  const held = `${E2E_RATE} orders/s offered for ${E2E_SECONDS} s`;
  const pct = (r: SustainedResult) => (100 * r.lowestCompleted) / r.rate;
  const s = (
    metric: string,
    unit: string,
    better: Sample['better'],
    pick: (r: SustainedResult) => number,
    goal?: string,
  ): Sample => ({
    metric: `e2e ${metric} (${held})`,
    value: pick(ours),
    unit,
    better,
    reference: { name: refName, value: pick(ref) },
    ...(goal ? { goal } : {}),
    command: cmd,
  });
  return [
    s(
      'sustained completion rate: the lowest 10 s window of shipping.created/s (the first window, filling the pipeline, left out)',
      'orders/s',
      'higher',
      (r) => r.lowestCompleted,
      '≥ 500 orders/s sustained 2 min, or ≥ 80 % of the bare chain',
    ),
    s('sustained completion rate as a share of the offered rate', '%', 'higher', pct, '100 %'),
    s(
      'checkout acceptance: the lowest 10 s window of orders placed/s',
      'orders/s',
      'higher',
      (r) => r.lowestPlaced,
    ),
    s('backlog half-way (orders placed, not yet shipped)', 'orders', 'lower', (r) => r.backlogMiddle),
    s('backlog at the end (bounded: no more than half-way)', 'orders', 'lower', (r) => r.backlogEnd),
    s(
      'latency p50, checkout tx start → saga records shipping.created, every order',
      'ms',
      'lower',
      (r) => r.p50,
    ),
    s('latency p99, every order', 'ms', 'lower', (r) => r.p99),
    s(
      'machine CPU per order while the load ran (all processes: ours, PostgreSQL, Kafka, the load generator; beyond idle)',
      'ms',
      'lower',
      (r) => r.cpuMsPerOrder,
    ),
  ];
}

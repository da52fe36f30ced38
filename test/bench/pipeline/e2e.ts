import { CORE, startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import type { Benchmark, Sample } from '../harness.js';
import { chainRamp } from './chain.js';
import { e2eStep } from './e2e-step.js';
import { spawnOrderbus, supervisedBenchmark } from './processes.js';
import { allShipped, warmUp } from './progress.js';
import { ramp, type RampResult } from './ramp.js';
import { spawnCheckout, spawnProviders } from './services.js';
import { CPU_RATE, E2E_GRACE_MS, E2E_STEP_MS, E2E_STEPS, RUNS } from './settings.js';

/**
 * e2e: orders from checkout to shipping.created up a rate ramp; a step counts as steady when
 * every order of it has shipped ≤ 5 s after it. Reference, same run: the bare-kafkajs chain.
 */

const cmd = 'npm run bench -- e2e';

export function e2eBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  let url = '';
  let runNo = 0;
  return supervisedBenchmark({
    name: 'e2e',
    description: `orders from POST /api/checkout to shipping.created: 12 partitions, one \`orderbus run --service X\` process per core service, providers at zero latency; rate ramp ${E2E_STEPS.join('→')}/s, ${E2E_STEP_MS / 1000} s per step, stopping at the first step that does not keep up; reference, same run and ramp: the four hops (payment, inventory, shipping, saga) as bare kafkajs consumers that produce the next event (one process each, acks=all) with no database, providers or registry, fed by a producer at the same rate`,
    runs: RUNS,
    async setup() {
      p = await startTestPipeline({ label: 'bench-e2e', partitions: 12 });
      await spawnProviders(p);
      url = (await spawnCheckout(p)).url;
      for (const s of CORE.filter((n) => n !== 'checkout-api')) spawnOrderbus(p, ['run', '--service', s]);
      await warmUp(p, url);
    },
    async cleanup() {
      await p?.stop();
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const pipeline = p;
      const ours = await ramp('pipeline', (rate, idle) => e2eStep(pipeline, url, rate, idle));
      // Let the backlog of the failed step drain so the next run starts from an empty pipeline.
      await allShipped(p);
      // The reference, right after on the same machine (the pipeline's processes idle meanwhile):
      // the bare chain on its own topic, same ramp, drained, then stopped and its topic deleted.
      const ref = await chainRamp(p, `${p.ns}.chain-${++runNo}`);
      return e2eFigures(ours, ref);
    },
  });
}

function e2eFigures(ours: RampResult, ref: RampResult): Sample[] {
  const { steady, saturated, first, steps } = ours;
  const refName = `bare kafkajs chain, same 4 hops, no database or providers`;
  const held = `${E2E_STEP_MS / 1000} s steps, every order shipped ≤ ${E2E_GRACE_MS / 1000} s after the step`;
  const samples: Sample[] = [
    {
      metric: `e2e highest steady rate (${held})`,
      value: steady?.rate ?? 0,
      unit: 'orders/s',
      better: 'higher',
      reference: {
        name: `${refName} (the ramp ends at ${E2E_STEPS.at(-1)}/s)`,
        value: ref.steady?.rate ?? 0,
      },
      goal: '≥ 500 orders/s',
      command: cmd,
    },
    {
      metric: 'e2e completion throughput in the last step (shipping.created/s, saturation if it failed)',
      value: saturated?.completedPerSecond ?? 0,
      unit: 'orders/s',
      better: 'higher',
      reference: { name: `${refName}, its last step`, value: ref.saturated?.completedPerSecond ?? 0 },
      goal: '≥ 500 orders/s',
      command: cmd,
    },
  ];
  // CPU per order at one rate both keep up with (the machine is shared by everything, so
  // this, not the ceiling, says what an order costs): 2 cores / this = the ceiling.
  const at = steps.find((s) => s.rate === CPU_RATE);
  const refAt = ref.steps.find((s) => s.rate === CPU_RATE);
  if (at && refAt)
    samples.push({
      metric: `e2e machine CPU per order at ${CPU_RATE} orders/s (all processes — ours, PostgreSQL, Kafka, the load generator — beyond idle)`,
      value: at.cpuMsPerOrder,
      unit: 'ms',
      better: 'lower',
      reference: { name: `${refName}, same rate`, value: refAt.cpuMsPerOrder },
      command: cmd,
    });
  if (first && ref.first) {
    const at = `at ${first.rate} orders/s (the first step), checkout tx start → saga records shipping.created`;
    for (const q of ['p50', 'p99'] as const)
      samples.push({
        metric: `e2e latency ${q} ${at}`,
        value: first[q],
        unit: 'ms',
        better: 'lower',
        reference: { name: `${refName}, ${q}`, value: ref.first[q] },
        command: cmd,
      });
  }
  return samples;
}

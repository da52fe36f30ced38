import { runLoad, type LoadSummary } from '../../../src/devstack/load/load.js';
import { providerAdmin } from '../../../src/providers/client.js';
import { CORE, startTestPipeline, type TestPipeline } from '../../support/pipeline.js';
import type { Benchmark, Sample } from '../harness.js';
import { spawnOrderbus, spawnSupervised, supervisedBenchmark } from './processes.js';
import { pipelineCaughtUp, warmUp } from './progress.js';
import { spawnCheckout, spawnProviders } from './services.js';
import { RUNS } from './settings.js';

/**
 * checkout: latency at a steady rate, in a 10× burst and in a shipping outage, against a trivial
 * Node HTTP server that parses the same JSON and answers the same 201 (its own child process).
 */

const REFERENCE_SERVER = `
const http = require('node:http');
const { randomUUID } = require('node:crypto');
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const order = JSON.parse(body);
    const ok = Array.isArray(order.items) && order.items.length > 0;
    res.writeHead(ok ? 201 : 400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ orderId: randomUUID(), status: 'pending' }));
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });
`;

async function spawnReferenceServer(): Promise<string> {
  const child = spawnSupervised(['-e', REFERENCE_SERVER], {
    label: 'reference-server',
    env: process.env,
    stdout: 'pipe',
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', () => reject(new Error('reference server exited')));
  });
  return `http://127.0.0.1:${port}`;
}

const STEADY_RATE = 50;
const BURST_RATE = 500;
const cmd = 'npm run bench -- checkout';

const load = (u: string, rate: number, ms: number): Promise<LoadSummary> =>
  runLoad({ url: u, ratePerSecond: rate, durationMs: ms });

export function checkoutBenchmark(): Benchmark {
  let p: TestPipeline | undefined;
  let url = '';
  let refUrl = '';
  let shippingAdmin = '';
  return supervisedBenchmark({
    name: 'checkout',
    description: `POST /api/checkout latency (checkout-api in its own process, the core pipeline running in another, 12 partitions): ${STEADY_RATE}/s for 8 s, a 10× burst (${BURST_RATE}/s for 4 s), and ${STEADY_RATE}/s for 10 s with the shipping provider down, each phase starting with the core pipeline caught up; reference: a plain Node http server doing the same JSON parse + 201 in its own process`,
    runs: RUNS,
    async setup() {
      p = await startTestPipeline({ label: 'bench-checkout', partitions: 12 });
      shippingAdmin = (await spawnProviders(p)).shipping;
      url = (await spawnCheckout(p)).url;
      spawnOrderbus(p, ['run', ...CORE.filter((n) => n !== 'checkout-api').flatMap((s) => ['--service', s])]);
      refUrl = await spawnReferenceServer();
      await warmUp(p, url);
      // One short burst first, so the measured bursts find a warm process and a grown pool
      // (the first burst against a cold checkout had a p99 3-4x the later ones').
      await load(url, BURST_RATE, 1000);
      await load(refUrl, STEADY_RATE, 2000);
    },
    async cleanup() {
      await p?.stop();
    },
    async run() {
      if (!p) throw new Error('setup did not run');
      const pipeline = p;
      // Each phase starts with the core pipeline caught up: a burst leaves it ~2,000 orders to work
      // off for many seconds, and a phase measured meanwhile measured that backlog's CPU (both for
      // checkout and for the reference server) rather than its own rate.
      const caughtUp = () => pipelineCaughtUp(pipeline);
      await caughtUp();
      const refSteady = await load(refUrl, STEADY_RATE, 8000);
      const steady = await load(url, STEADY_RATE, 8000);
      await caughtUp();
      await providerAdmin.faults(shippingAdmin, { down: 'refuse' });
      let outage: LoadSummary;
      try {
        outage = await load(url, STEADY_RATE, 10_000);
      } finally {
        await providerAdmin.faults(shippingAdmin, {});
      }
      await caughtUp();
      const refBurst = await load(refUrl, BURST_RATE, 4000);
      const burst = await load(url, BURST_RATE, 4000);
      for (const [n, s] of Object.entries({ refSteady, steady, outage, refBurst, burst }))
        process.stderr.write(
          `    ${n}: placed ${s.placed}/${s.attempted} ${JSON.stringify(s.byStatus)} errors ${s.errors} p50 ${s.latencyMs.p50.toFixed(1)} p99 ${s.latencyMs.p99.toFixed(1)} ms\n`,
        );
      return checkoutFigures({ refSteady, steady, outage, refBurst, burst });
    },
  });
}

function checkoutFigures(
  r: Record<'refSteady' | 'steady' | 'outage' | 'refBurst' | 'burst', LoadSummary>,
): Sample[] {
  const ref = (name: string, value: number) => ({ name, value });
  const m = (metric: string, value: number, reference: { name: string; value: number }, goal?: string) => ({
    metric,
    value,
    unit: 'ms',
    better: 'lower' as const,
    reference,
    ...(goal ? { goal } : {}),
    command: cmd,
  });
  return [
    m(
      `checkout p50 at ${STEADY_RATE}/s`,
      r.steady.latencyMs.p50,
      ref('plain http server p50', r.refSteady.latencyMs.p50),
    ),
    m(
      `checkout p99 at ${STEADY_RATE}/s`,
      r.steady.latencyMs.p99,
      ref('plain http server p99', r.refSteady.latencyMs.p99),
      '≤ 50 ms',
    ),
    m(
      `checkout p50 in a 10× burst (${BURST_RATE}/s)`,
      r.burst.latencyMs.p50,
      ref('plain http server p50', r.refBurst.latencyMs.p50),
    ),
    m(
      `checkout p99 in a 10× burst (${BURST_RATE}/s)`,
      r.burst.latencyMs.p99,
      ref('plain http server p99', r.refBurst.latencyMs.p99),
      '≤ 150 ms',
    ),
    m(
      `checkout p99 at ${STEADY_RATE}/s during a 10 s shipping outage`,
      r.outage.latencyMs.p99,
      ref('checkout p99 without outage', r.steady.latencyMs.p99),
      'no change from the outage',
    ),
    {
      metric: `checkout non-201 answers in the burst`,
      value: r.burst.attempted - r.burst.placed,
      unit: 'requests',
      better: 'lower',
      command: cmd,
    },
  ];
}

import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import { configFrom } from './context.js';
import { parseDuration } from '../src/time.js';
import { parseNumber } from './options.js';
import type { DrillReport } from '../src/devstack/chaos/report.js';
import { formatSeconds } from '../src/devstack/chaos/report.js';
import { log, paint, printJson, printTable } from './output.js';

export function defineChaos(program: Command): void {
  const chaos = program
    .command('chaos')
    .description('chaos drills against the stack, with a business-invariant report');

  chaos
    .command('list')
    .description('the scenarios, one line each')
    .option('--json', 'machine output')
    .action(async (opts: { json?: boolean }) => {
      const { SCENARIOS } = await import('../src/devstack/chaos/scenarios.js');
      const rows = SCENARIOS.map((s) => ({
        name: s.name,
        fault: s.summary,
        proves: s.proves,
        ...(s.requiresBrokers ? { requiresBrokers: s.requiresBrokers } : {}),
      }));
      if (opts.json) return printJson(rows);
      printTable(
        ['SCENARIO', 'FAULT', 'PROVES'],
        rows.map((r) => [
          r.name,
          r.requiresBrokers ? `${r.fault} (needs ${r.requiresBrokers} brokers)` : r.fault,
          r.proves,
        ]),
      );
    });

  chaos
    .command('run')
    .description(
      'steady state → inject the fault under load → hold → heal → settle → verify; exits 1 if an invariant breaks',
    )
    .argument('<scenario>', 'a scenario from `orderbus chaos list`')
    .option('--duration <d>', 'how long the fault is held while the load runs (e.g. 20s, 2m)', '20s')
    .option('--rate <n>', 'orders per second placed during the drill', '20')
    .option('--baseline <d>', 'steady-state measurement before the fault (default: a third of --duration)')
    .option('--settle-timeout <d>', 'how long the pipeline may take to settle after the heal')
    .option('--json', 'machine output (the full report)')
    .action(
      async (
        scenario: string,
        opts: { duration: string; rate: string; baseline?: string; settleTimeout?: string; json?: boolean },
        cmd: Command,
      ) => {
        const hint = `orderbus chaos run ${scenario} --rate 20 --duration 20s`;
        const rate = parseNumber(opts.rate, '--rate', hint);
        const durationMs = parseDuration(opts.duration, '--duration', hint);
        if (durationMs <= 0)
          throw usageError(
            'BAD_DURATION',
            `--duration must be longer than 0, got '${opts.duration}'`,
            `orderbus chaos run ${scenario} --duration 20s`,
          );
        const { findScenario } = await import('../src/devstack/chaos/scenarios.js');
        findScenario(scenario);
        const config = configFrom(cmd);
        const { runDrill } = await import('../src/devstack/chaos/drill.js');
        const { reportLine } = await import('../src/devstack/chaos/report.js');
        const ac = new AbortController();
        const onSignal = () => {
          log('interrupted: healing the fault and cleaning up (Ctrl-C again to abandon)');
          ac.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const report = await runDrill(config, {
            scenario,
            ratePerSecond: rate,
            durationMs,
            ...(opts.baseline ? { baselineMs: parseDuration(opts.baseline, '--baseline', hint) } : {}),
            ...(opts.settleTimeout
              ? { settleTimeoutMs: parseDuration(opts.settleTimeout, '--settle-timeout', hint) }
              : {}),
            signal: ac.signal,
            log: (l) => log(l),
            command: `chaos run ${scenario} --duration ${opts.duration} --rate ${opts.rate}`,
          });
          if (report.verdict !== 'PASS') process.exitCode = 1;
          if (opts.json) return printJson(report);
          renderReport(report);
          log(reportLine(report));
        } finally {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        }
      },
    );
}

/** The report as an operator reads it: verdict and invariants first, then the figures. */
function renderReport(r: DrillReport): void {
  const out = (s = '') => process.stdout.write(`${s}\n`);
  const verdict = r.verdict === 'PASS' ? paint.green('PASS') : paint.red('FAIL');
  out(`${paint.bold(`chaos drill ${r.scenario}`)}: ${r.summary} — ${verdict}`);
  for (const w of r.warnings) out(paint.yellow(`warning: ${w}`));
  out();
  printTable(
    ['INVARIANT', 'VALUE', 'OK', 'DETAIL'],
    r.invariants.map((i) => [i.name, i.value, i.ok ? paint.green('ok') : paint.red('BROKEN'), i.detail]),
  );
  out();
  const c = r.checkout;
  printTable(
    ['CHECKOUT', 'REQUESTS', 'P50 MS', 'P99 MS'],
    [
      ['baseline', c.baseline.requests, c.baseline.p50, c.baseline.p99],
      ['during fault', c.fault.requests, c.fault.p50, c.fault.p99],
    ],
  );
  out(
    `checkout success ${c.successPct}% (${c.succeeded}/${c.attempted}); orders: ${Object.entries(
      r.orders.byStatus,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; placed → notified p50 ${r.orderCompletionMs.p50} ms, p99 ${r.orderCompletionMs.p99} ms`,
  );
  out();
  printTable(
    ['GROUP', 'PEAK LAG', 'PEAK TIME LAG MS'],
    r.lag.map((g) => [g.group, g.peakLag, g.peakTimeLagMs]),
  );
  out();
  printTable(
    ['QUEUE', 'PEAK DEPTH'],
    Object.entries(r.peakQueueDepths)
      .filter(([q, d]) => d > 0 || q.endsWith('.tasks'))
      .map(([q, d]) => [q, d]),
  );
  out();
  out(
    `dead letters: +${r.dlq.delta} (order.events.dlq ${r.dlq.kafka}, email ${r.dlq.email}, webhook ${r.dlq.webhook}, analytics ${r.dlq.analytics})`,
  );
  out(`time to recover ${formatSeconds(r.recoveryMs)}; settled ${formatSeconds(r.settleMs)} after the heal`);
  const seen = Object.entries(r.observed);
  if (seen.length > 0) out(`observed: ${seen.map(([k, v]) => `${k} ${v}`).join('; ')}`);
  out();
  out('timeline:');
  for (const t of r.timeline) out(`  ${(t.atMs / 1000).toFixed(1).padStart(6)}s  ${t.event}`);
  for (const m of r.remediation) out(`remedy: ${m}`);
  for (const n of r.next) out(`next: ${n}`);
}

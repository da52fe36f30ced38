import type { OrderbusConfig } from '../../config.js';
import { COMPONENTS } from '../../config-schema.js';
import { OrderbusError, errorMessage } from '../../errors.js';
import { runLoad, type LoadSummary } from '../load/load.js';
import { appendAudit } from '../../ops/audit.js';
import { OpsContext, withOps } from '../../ops/context.js';
import { readState } from '../stack/state.js';
import { dataDir } from '../../paths.js';
import { traceOrder } from '../../ops/trace.js';
import { verifyDrill, whereOrderStopped, type Verification } from './invariants.js';
import { isBackToBaseline, isQuiet, pendingWork, PipelineMonitor, type Peaks } from './monitor.js';
import { DrillPipeline } from './pipeline.js';
import { invariant, reportLine, verdictOf, type DrillReport, type Invariant } from './report.js';
import { DrillDatabase } from './private-postgres.js';
import { PrivateRegistry } from './private-registry.js';
import type { DrillContext, Scenario } from './scenario.js';
import { findScenario } from './scenarios.js';

/**
 * A chaos drill: steady state (baseline checkout latency and lag) → inject the fault while the
 * load keeps placing orders → hold → heal → wait for the pipeline to settle (bounded) → the
 * runbook's remedy if any → verify the business invariants → report, and append the verdict to
 * the audit topic. The fault is always healed and the drill's namespace always removed, also
 * when the drill fails or is interrupted.
 */
export interface DrillOptions {
  scenario: string;
  ratePerSecond: number;
  durationMs: number;
  baselineMs?: number;
  settleTimeoutMs?: number;
  partitions?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The command line, for the audit record. */
  command?: string;
}

const QUIET_SAMPLES = 3;

function sleeper(signal: AbortSignal) {
  return (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal.aborted || ms <= 0) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
}

function orderIdsOf(s: LoadSummary | undefined): string[] {
  return s ? [...s.orderIds.normal, ...s.orderIds['out-of-stock'], ...s.orderIds.declined] : [];
}

function preflight(config: OrderbusConfig, scenario: Scenario): void {
  if (scenario.requiresBrokers) {
    const state = readState(dataDir(config));
    const brokers = state?.kafka.length ?? 0;
    if (brokers < scenario.requiresBrokers)
      throw new OrderbusError(
        'DRILL_NEEDS_BROKERS',
        `${scenario.name} needs a ${scenario.requiresBrokers}-broker stack; this one has ${brokers || 'no'} broker${brokers === 1 ? '' : 's'} started by orderbus`,
        { hint: `orderbus stack down && orderbus stack up --brokers ${scenario.requiresBrokers}` },
      );
  }
  const nodes = readState(dataDir(config))?.rabbit?.length ?? 0;
  if (scenario.requiresRabbitNodes && nodes < scenario.requiresRabbitNodes)
    throw new OrderbusError(
      'DRILL_NEEDS_RABBIT_NODES',
      `${scenario.name} needs a ${scenario.requiresRabbitNodes}-node RabbitMQ cluster; this stack has ${nodes || 'no'} RabbitMQ node${nodes === 1 ? '' : 's'} started by orderbus`,
      { hint: `orderbus stack down && orderbus stack up --rabbit-nodes ${scenario.requiresRabbitNodes}` },
    );
}

export async function runDrill(given: OrderbusConfig, options: DrillOptions): Promise<DrillReport> {
  // A drill runs the whole pipeline, so its target has every component, whatever the brokers'
  // addresses imply (a drill's private Kafka or RabbitMQ is given by address, which alone would
  // make a Kafka-only or Kafka-and-RabbitMQ target of it).
  const config: OrderbusConfig = { ...given, components: [...COMPONENTS] };
  const scenario = findScenario(options.scenario);
  preflight(config, scenario);
  const log = options.log ?? (() => undefined);
  const signal = options.signal ?? new AbortController().signal;
  const sleep = sleeper(signal);
  const started = Date.now();
  const timeline: DrillReport['timeline'] = [];
  const note = (event: string) => {
    timeline.push({ atMs: Date.now() - started, event });
    log(event);
  };
  const observed: Record<string, number | string> = {};
  const warnings: string[] = [];
  if (config.workers.unsafeAckBeforePublish)
    warnings.push('workers.unsafeAckBeforePublish is on (TEST-ONLY): the dispatcher can lose tasks');
  if (config.database.unsafeNoErrorListeners)
    warnings.push('database.unsafeNoErrorListeners is on (TEST-ONLY): a lost connection kills a service');
  if (config.registry.unsafeFailuresArePoison)
    warnings.push(
      'registry.unsafeFailuresArePoison is on (TEST-ONLY): records read while the registry is away are dead-lettered',
    );
  const baselineMs = options.baselineMs ?? Math.min(10_000, Math.max(2000, options.durationMs / 3));
  const settleTimeoutMs = options.settleTimeoutMs ?? 90_000 + (scenario.settleExtraMs ?? 0);

  const pipeline = new DrillPipeline(config, scenario.name, {
    log: (l) => log(`  ${l}`),
    ...(options.partitions ? { partitions: options.partitions } : {}),
  });
  let ops: OpsContext | undefined;
  let monitor: PipelineMonitor | undefined;
  let ctx: DrillContext | undefined;
  let database: DrillDatabase | undefined;
  let registry: PrivateRegistry | undefined;
  let injected = false;
  let healed = false;
  let report: DrillReport | undefined;
  try {
    note(`setting up the drill pipeline in namespace ${pipeline.ns}`);
    if (scenario.privateDatabase) {
      database = await DrillDatabase.start(config);
      note(`private PostgreSQL on port ${database.server.port}, reached through the fault proxy`);
    }
    if (scenario.privateRegistry) {
      registry = await PrivateRegistry.start(config, pipeline.ns);
      note(`private schema registry on port ${registry.port}`);
    }
    await pipeline.start(database ?? registry);
    ops = new OpsContext(pipeline.config);
    monitor = new PipelineMonitor(ops, pipeline);
    ctx = {
      config,
      pipeline,
      ...(database ? { database } : {}),
      ...(registry ? { registry } : {}),
      ops,
      signal,
      faultWindowMs: options.durationMs,
      note,
      observe: (k, v) => (observed[k] = v),
      sleep,
    };
    monitor.start();
    const loadBase = {
      url: pipeline.checkoutUrl,
      ratePerSecond: options.ratePerSecond,
      signal,
    };

    monitor.setPhase('baseline');
    note(`baseline: ${options.ratePerSecond} orders/s for ${(baselineMs / 1000).toFixed(0)}s`);
    const baseline = await runLoad({ ...loadBase, durationMs: baselineMs });
    if (signal.aborted) throw interrupted();

    monitor.setPhase('fault');
    note(`inject: ${scenario.summary}`);
    injected = true;
    const faultStart = Date.now();
    let fault: LoadSummary;
    if (scenario.burstFactor) {
      const [, l] = await Promise.all([
        scenario.inject(ctx),
        runLoad({ ...loadBase, durationMs: options.durationMs, burstFactor: scenario.burstFactor }),
      ]);
      fault = l;
    } else {
      // The load keeps going until the fault window is over and the injection has finished.
      const stopLoad = new AbortController();
      const onAbort = () => stopLoad.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const loading = runLoad({ ...loadBase, durationMs: 24 * 3600_000, signal: stopLoad.signal });
      try {
        await scenario.inject(ctx);
        await sleep(faultStart + options.durationMs - Date.now());
      } finally {
        stopLoad.abort();
        signal.removeEventListener('abort', onAbort);
      }
      fault = await loading;
    }
    observed['fault window s'] = Number(((Date.now() - faultStart) / 1000).toFixed(1));
    if (signal.aborted) throw interrupted();

    note('heal');
    await scenario.heal(ctx);
    healed = true;
    const healedAt = Date.now();
    await monitor.stop();
    monitor.setPhase('recovery');
    const baselinePeaks = monitor.peaksOf('baseline');
    const settle = await settlePipeline(monitor, baselinePeaks, healedAt, settleTimeoutMs, sleep, signal);
    let { settledAt } = settle;
    if (signal.aborted) throw interrupted();
    if (scenario.remedy && settledAt !== null) {
      note('remedy (the runbook step)');
      if (await scenario.remedy(ctx)) {
        const again = await settlePipeline(monitor, baselinePeaks, healedAt, settleTimeoutMs, sleep, signal);
        settledAt = again.settledAt;
      }
    }
    note(
      settledAt === null
        ? `did not settle within ${settleTimeoutMs / 1000}s: ${pendingWork(monitor.last).join(', ')}`
        : 'settled',
    );

    // Work still pending after the bound: what each process last logged says why.
    if (settledAt === null)
      for (const name of pipeline.processNames())
        for (const line of pipeline.recentLog(name, 6))
          warnings.push(`${name} logged: ${line.slice(0, 400)}`);
    for (const u of pipeline.unexpected) warnings.push(`service crashed: ${u}`);
    observed['unexpected service exits'] = pipeline.unexpected.length;
    // Partitions a resolved Kafka send had left out (a leader moved during it), sent again.
    observed['sends repeated for left-out partitions'] =
      (pipeline.events.get('relay.partitions-resent') ?? 0) +
      (pipeline.events.get('consumer.dlq-partitions-resent') ?? 0);
    // Acknowledged by Kafka (marked sent by the relay) against what the topic holds: fewer
    // records than sent events means the broker lost acknowledged writes.
    const sent = await pipeline.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NOT NULL',
    );
    const marks = await (await ops.admin()).fetchTopicOffsets(pipeline.config.topics.orderEvents);
    observed['events sent by the relay'] = sent.rows[0]?.n ?? 0;
    observed['records on order.events'] = marks.reduce((n, m) => n + Number(m.high) - Number(m.low), 0);
    const placed = [...orderIdsOf(baseline), ...orderIdsOf(fault)];
    const v = await verifyDrill(ops, pipeline, placed, settledAt !== null);
    // A lost order is followed everywhere, so the report says where it stopped.
    for (const lost of v.orders.lostIds.slice(0, 3)) {
      const id = lost.split(' ')[0] ?? lost;
      try {
        warnings.push(
          `lost order ${whereOrderStopped(await traceOrder(ops, id), pipeline.config.kafka.groupPrefix)}`,
        );
      } catch (e) {
        warnings.push(`lost order ${id}: trace failed: ${errorMessage(e)}`);
      }
    }
    report = buildReport({
      scenario,
      ctx,
      pipeline,
      options: { ...options, baselineMs, settleTimeoutMs },
      started,
      timeline,
      warnings,
      observed,
      baseline,
      fault,
      v,
      monitor,
      recoveryMs: settle.recoveredAt === null ? null : settle.recoveredAt - healedAt,
      settleMs: settledAt === null ? null : settledAt - healedAt,
      settledAt,
    });
  } finally {
    if (injected && !healed && ctx) {
      try {
        note('heal (the drill was interrupted or failed)');
        await scenario.heal(ctx);
      } catch (e) {
        warnings.push(`heal failed: ${errorMessage(e)}`);
        log(`heal failed: ${errorMessage(e)}`);
      }
    }
    await monitor?.stop();
    await ops?.close();
    const problems = await pipeline.destroy();
    for (const p of problems) warnings.push(`cleanup: ${p}`);
    await database
      ?.stop()
      .catch((e: unknown) => warnings.push(`cleanup: private PostgreSQL: ${errorMessage(e)}`));
    await registry
      ?.stop()
      .catch((e: unknown) => warnings.push(`cleanup: private registry: ${errorMessage(e)}`));
  }
  if (!report) throw new OrderbusError('DRILL_NO_REPORT', 'the drill ended without a report');
  try {
    const r = report;
    await withOps(config, (audit) =>
      appendAudit(audit, {
        command: options.command ?? `chaos run ${scenario.name}`,
        plan: { scenario: scenario.name, ...r.params, namespace: r.namespace },
        result: {
          verdict: r.verdict,
          line: reportLine(r),
          failed: r.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail}`),
        },
      }),
    );
  } catch (e) {
    report.warnings.push(`the audit record could not be written: ${errorMessage(e)}`);
  }
  return report;
}

function interrupted(): OrderbusError {
  return new OrderbusError('DRILL_INTERRUPTED', 'the drill was interrupted; the fault was healed', {
    hint: 'orderbus chaos run SCENARIO (to run it again)',
  });
}

async function settlePipeline(
  monitor: PipelineMonitor,
  baseline: Peaks,
  healedAt: number,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
  signal: AbortSignal,
): Promise<{ settledAt: number | null; recoveredAt: number | null }> {
  let quiet = 0;
  let recoveredAt: number | null = null;
  const deadline = healedAt + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    const s = await monitor.sample();
    monitor.observe(s);
    if (recoveredAt === null && isBackToBaseline(s, baseline)) recoveredAt = s.at;
    quiet = isQuiet(s) ? quiet + 1 : 0;
    if (quiet >= QUIET_SAMPLES) return { settledAt: s.at, recoveredAt: recoveredAt ?? s.at };
    await sleep(1000);
  }
  return { settledAt: null, recoveredAt };
}

interface BuildInput {
  scenario: Scenario;
  ctx: DrillContext;
  pipeline: DrillPipeline;
  options: DrillOptions & { baselineMs: number; settleTimeoutMs: number };
  started: number;
  timeline: DrillReport['timeline'];
  warnings: string[];
  observed: Record<string, number | string>;
  baseline: LoadSummary;
  fault: LoadSummary;
  v: Verification;
  monitor: PipelineMonitor;
  recoveryMs: number | null;
  settleMs: number | null;
  settledAt: number | null;
}

function buildReport(i: BuildInput): DrillReport {
  const { v, baseline, fault } = i;
  const attempted = baseline.attempted + fault.attempted;
  const succeeded = (baseline.byStatus['201'] ?? 0) + (fault.byStatus['201'] ?? 0);
  const byStatus: Record<string, number> = {};
  for (const s of [baseline, fault])
    for (const [k, n] of Object.entries(s.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + n;
  if (baseline.errors + fault.errors > 0) byStatus.error = baseline.errors + fault.errors;
  const invariants: Invariant[] = [
    invariant(
      'orders lost',
      v.orders.lost,
      v.orders.lost === 0,
      `placed ${v.orders.placed} − (completed ${v.orders.completed} + compensated ${v.orders.compensated} + in DLQ ${v.orders.inDlq} + in flight ${v.orders.inFlight})${v.orders.lostIds.length ? `; e.g. ${v.orders.lostIds.join(', ')}` : ''}`,
    ),
    invariant('duplicate charges', v.duplicates.charges, v.duplicates.charges === 0, 'payment ledger'),
    invariant('duplicate refunds', v.duplicates.refunds, v.duplicates.refunds === 0, 'payment ledger'),
    invariant(
      'duplicate emails',
      v.duplicates.emails,
      v.duplicates.emails === 0,
      'email ledger, per order and template',
    ),
    invariant(
      'duplicate webhook deliveries',
      v.duplicates.webhooks,
      v.duplicates.webhooks === 0,
      'partner ledger, per order and event',
    ),
    invariant(
      'failed orders not compensated',
      v.orders.uncompensated,
      v.orders.uncompensated === 0,
      `${v.orders.compensated} failed or cancelled; charged and not refunded, or stock still held: ${v.orders.uncompensated}${v.orders.uncompensatedIds.length ? ` (${v.orders.uncompensatedIds.join(', ')})` : ''}`,
    ),
    invariant(
      'tasks lost',
      v.tasks.lost,
      v.tasks.lost === 0,
      `e-mails and webhooks owed ${v.tasks.expected}: delivered ${v.tasks.delivered}, in DLQ ${v.tasks.inDlq}, in flight ${v.tasks.inFlight}${v.tasks.lostIds.length ? `; e.g. ${v.tasks.lostIds.join(', ')}` : ''}`,
    ),
    invariant(
      'settled',
      i.settleMs === null ? 1 : 0,
      i.settleMs !== null,
      i.settleMs === null
        ? `work was still pending ${(i.options.settleTimeoutMs / 1000).toFixed(0)}s after the heal: ${pendingWork(i.monitor.last).slice(0, 8).join(', ')}`
        : `nothing left to do ${(i.settleMs / 1000).toFixed(1)}s after the heal`,
    ),
    ...(i.scenario.checks?.(i.ctx, v, {
      faultP99: fault.latencyMs.p99,
      faultStatuses: fault.byStatus,
      faultErrors: fault.errors,
      settledAt: i.settledAt,
    }) ?? []),
  ];
  const lagGroups = new Set<string>();
  const peaks = ['baseline', 'fault', 'recovery'].map((p) => i.monitor.peaksOf(p));
  for (const p of peaks) for (const g of Object.keys(p.lag)) lagGroups.add(g);
  const peakQueueDepths: Record<string, number> = {};
  for (const p of peaks)
    for (const [q, d] of Object.entries(p.queues)) peakQueueDepths[q] = Math.max(peakQueueDepths[q] ?? 0, d);
  const dlqTotal = v.dlq.kafka + v.dlq.email + v.dlq.webhook + v.dlq.analytics;
  const report: DrillReport = {
    scenario: i.scenario.name,
    summary: i.scenario.summary,
    namespace: i.pipeline.ns,
    startedAt: new Date(i.started).toISOString(),
    finishedAt: new Date().toISOString(),
    verdict: verdictOf(invariants),
    params: {
      ratePerSecond: i.options.ratePerSecond,
      durationMs: i.options.durationMs,
      baselineMs: i.options.baselineMs,
      settleTimeoutMs: i.options.settleTimeoutMs,
    },
    warnings: i.warnings,
    timeline: i.timeline,
    invariants,
    orders: v.orders,
    duplicates: v.duplicates,
    tasks: v.tasks,
    checkout: {
      attempted,
      succeeded,
      successPct: attempted === 0 ? 0 : Number(((100 * succeeded) / attempted).toFixed(2)),
      byStatus,
      baseline: {
        requests: baseline.attempted,
        p50: round(baseline.latencyMs.p50),
        p99: round(baseline.latencyMs.p99),
      },
      fault: { requests: fault.attempted, p50: round(fault.latencyMs.p50), p99: round(fault.latencyMs.p99) },
    },
    orderCompletionMs: {
      p50: Math.round(v.orderCompletionMs.p50),
      p99: Math.round(v.orderCompletionMs.p99),
      max: Math.round(v.orderCompletionMs.max),
    },
    lag: [...lagGroups].sort().map((g) => ({
      group: g,
      peakLag: Math.max(...peaks.map((p) => p.lag[g] ?? 0)),
      peakTimeLagMs: Math.max(...peaks.map((p) => p.timeLagMs[g] ?? 0)),
    })),
    peakQueueDepths,
    dlq: { ...v.dlq, delta: dlqTotal },
    recoveryMs: i.recoveryMs,
    settleMs: i.settleMs,
    observed: i.observed,
    remediation: i.timeline.filter((t) => t.event.startsWith('redrove')).map((t) => t.event),
    next: i.scenario.next?.(i.ctx) ?? [],
  };
  return report;
}

const round = (n: number) => Math.round(n * 10) / 10;

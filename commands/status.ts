import type { Command } from 'commander';
import type { StatusReport } from '../src/ops/status.js';
import { withCommandOps } from './context.js';
import { eta, formatComponents, ms } from './format-ops.js';
import { formatTable, paint, printHealth, printResult } from './output.js';
import { renderQueues } from './queues.js';

export function renderStatus(report: StatusReport): string {
  const groups = formatTable(
    ['GROUP', 'STATUS', 'STATE', 'MEMBERS', 'LAG', 'TIME-LAG', 'ETA'],
    report.groups.map((g) => [
      g.group,
      paint.status(g.status),
      g.state,
      g.members,
      g.totalLag,
      ms(g.maxTimeLagMs),
      eta(g.etaSeconds),
    ]),
  );
  const dlqs = formatTable(
    ['DLQ', 'KIND', 'COUNT'],
    report.dlqs.map((d) => [d.name, d.kind, d.count]),
  );
  // Each broker with the release its ApiVersions answer tells (not the configured stack version).
  const brokers = formatTable(
    ['BROKER', 'ADDRESS', 'KAFKA'],
    report.components.flatMap((c) => (c.brokers ?? []).map((b) => [b.nodeId, b.address, b.version ?? '?'])),
  );
  const verdict = report.healthy
    ? paint.green('healthy')
    : report.problems.map((p) => paint.yellow(`! ${p}`)).join('\n');
  return [
    formatComponents(report.components),
    brokers,
    groups,
    renderQueues(report.queues),
    dlqs,
    verdict,
  ].join('\n\n');
}

export function defineStatus(program: Command): void {
  program
    .command('status')
    .description("the pipeline's health at a glance: components, consumer lag, queues, dead letters")
    .option('--json', 'machine output')
    .option(
      '--fail-on <status>',
      'exit 1 only at or above WARN, REWIND, STALL, STOP or ERR (down or unreachable: ERR; dead letters: WARN)',
    )
    .action(async (opts: { json?: boolean; failOn?: string }, cmd: Command) => {
      const { parseFailOn, reaches, statusLevel } = await import('../src/ops/fail-on.js');
      const failOn = opts.failOn === undefined ? undefined : parseFailOn(opts.failOn, 'status');
      const { statusReport } = await import('../src/ops/status.js');
      const report = await withCommandOps(cmd, (ctx) => statusReport(ctx));
      if (!failOn) return printHealth(report, opts.json, renderStatus);
      printResult(report, opts.json, renderStatus);
      if (reaches(statusLevel(report), failOn)) process.exitCode = 1;
    });
}

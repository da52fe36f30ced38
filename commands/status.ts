import type { Command } from 'commander';
import type { StatusReport } from '../src/ops/status.js';
import { withCommandOps } from './context.js';
import { eta, formatComponents, ms } from './format-ops.js';
import { formatTable, paint, printHealth } from './output.js';
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
  const verdict = report.healthy
    ? paint.green('healthy')
    : report.problems.map((p) => paint.yellow(`! ${p}`)).join('\n');
  return [formatComponents(report.components), groups, renderQueues(report.queues), dlqs, verdict].join(
    '\n\n',
  );
}

export function defineStatus(program: Command): void {
  program
    .command('status')
    .description("the pipeline's health at a glance: components, consumer lag, queues, dead letters")
    .option('--json', 'machine output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { statusReport } = await import('../src/ops/status.js');
      printHealth(await withCommandOps(cmd, (ctx) => statusReport(ctx)), opts.json, renderStatus);
    });
}

import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { AuditRecord } from '../src/ops/audit.js';
import { durationMs, parseDatetime } from '../src/time.js';
import { withCommandOps } from './context.js';
import { formatTable, printResult } from './output.js';

/** `--since`: a duration ago (30m, 2h, 7d, PT1H…) or a time with a zone. */
export function parseSince(v: string, now = Date.now()): Date {
  const ago = durationMs(v);
  return ago === undefined ? parseDatetime(v, '--since') : new Date(now - ago);
}

export function renderAudit(records: AuditRecord[]): string {
  return formatTable(
    ['AT', 'OPERATOR', 'HOST', 'COMMAND', 'STATUS', 'RESULT', 'ID'],
    records.map((r) => [r.at, r.operator, r.host, r.command, r.status, JSON.stringify(r.result), r.id]),
  );
}

export function defineAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'what changing commands and drills did: who, when, where, plan, status (interrupted: no result), payload hashes',
    )
    .option(
      '--since <iso|duration>',
      'only records since a time (ISO with zone) or a duration ago (30m, 2h, 7d)',
    )
    .option('--command <prefix>', 'only commands starting with this (e.g. "dlq redrive")')
    .option('--limit <n>', 'only the last N')
    .option('--json', 'machine output')
    .action(
      async (opts: { since?: string; command?: string; limit?: string; json?: boolean }, cmd: Command) => {
        const since = opts.since === undefined ? undefined : parseSince(opts.since);
        if (opts.limit !== undefined && !/^\d+$/.test(opts.limit))
          throw usageError(
            'BAD_NUMBER',
            `--limit takes a positive integer, got '${opts.limit}'`,
            'orderbus audit --limit 20',
          );
        const { listAudit } = await import('../src/ops/audit.js');
        const records = await withCommandOps(cmd, (ctx) =>
          listAudit(ctx, {
            ...(since ? { since } : {}),
            ...(opts.command ? { command: opts.command } : {}),
            ...(opts.limit ? { limit: Number(opts.limit) } : {}),
          }),
        );
        printResult(records, opts.json, renderAudit);
      },
    );
}

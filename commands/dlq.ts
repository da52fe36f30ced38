import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ExitCode, OrderbusError, usageError } from '../src/errors.js';
import type { DlqMessage, RedriveResult, ShowResult } from '../src/ops/dlq/index.js';
import type { Json } from '../src/ops/dlq/edits.js';
import { launchEditor } from '../src/ops/editor.js';
import { OUTBOX_DLQ } from '../src/ops/dlq/outbox-name.js';
import { configFrom } from './context.js';
import { progressBar } from './format-ops.js';
import { formatTable, log, paint, printJson } from './output.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0)
    throw usageError(
      'BAD_NUMBER',
      `${flag} takes a positive integer, got '${v}'`,
      `orderbus dlq show DLQ ${flag} 10`,
    );
  return Number(v);
}

function renderMessage(m: DlqMessage): string {
  if (m.kind === 'outbox') return renderParked(m);
  const lines = [
    `${paint.bold(m.id)}  order ${m.orderId ?? '-'}  → ${m.destination ?? '?'}`,
    `  failure: ${m.errorClass ?? '-'}${m.statusCode !== null ? ` (${m.statusCode})` : ''}: ${m.errorMessage ?? ''}`,
    `  attempts ${m.attempts ?? '-'}, first ${m.firstFailureAt ?? '-'}, last ${m.lastFailureAt ?? '-'}, redriven ${m.redriveCount}x`,
  ];
  if (m.decodeError) lines.push(paint.yellow(`  decode: ${m.decodeError}`));
  const body = m.payload !== null ? JSON.stringify(m.payload, null, 2) : m.raw;
  lines.push(...body.split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}

/** A parked outbox row: its event, why and when the relay parked it, its envelope. */
function renderParked(m: DlqMessage): string {
  const type = m.headers['event-type'] ?? '?';
  return [
    `${paint.bold(m.id)}  order ${m.orderId ?? '-'}  ${type}  → ${m.destination ?? '?'}`,
    `  parked ${m.lastFailureAt ?? '-'}: ${m.errorClass ? `${m.errorClass}: ` : ''}${m.errorMessage ?? ''}`,
    `  redriven ${m.redriveCount}x`,
    ...JSON.stringify(m.payload, null, 2)
      .split('\n')
      .map((l) => `  ${l}`),
  ].join('\n');
}

const n = (x: number) => x.toLocaleString('en-US');

/** How far `dlq show` read: the letters shown, of how many, and how many it read to find them. */
function showFooter(name: string, r: ShowResult, limit: number, filtered: boolean): string {
  if (!filtered)
    return r.messages.length < r.count
      ? `the first ${n(r.messages.length)} of ${n(r.count)} dead letters in ${name} (--limit N shows more)`
      : `${n(r.count)} dead letter(s) in ${name}`;
  const found = `${n(r.messages.length)} matching`;
  return r.stopped === 'end'
    ? `${found}: read all ${n(r.read)} of ${n(r.count)} dead letters in ${name}`
    : `${found} in the first ${n(r.read)} of ${n(r.count)} dead letters in ${name} (--limit ${limit * 2} reads on)`;
}

/** While a filter reads on, how far it is (on stderr, on a terminal, every 2 s at most). */
function readProgress(name: string, on: boolean) {
  const tty = on && process.stderr.isTTY;
  let last = Date.now();
  let drawn = false;
  return {
    update: (read: number) => {
      if (!tty || Date.now() - last < 2000) return;
      last = Date.now();
      drawn = true;
      process.stderr.write(`\r${paint.dim(`read ${n(read)} dead letters of ${name}…`)}`);
    },
    done: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

/** Items (with their diffs) a dry run prints unless --diff all. */
const DIFFS_SHOWN = 20;

export function renderRedrive(r: RedriveResult, shown = DIFFS_SHOWN): string {
  const out: string[] = [];
  for (const it of r.items.slice(0, shown)) {
    const mark =
      it.outcome === 'invalid'
        ? paint.red('invalid')
        : it.outcome === 'failed'
          ? paint.red('failed')
          : it.changed
            ? paint.yellow('changed')
            : 'as-is';
    out.push(`${it.id} (order ${it.orderId ?? '-'}) → ${it.destination ?? '?'}  [${mark}]`);
    for (const d of it.diff) out.push(`    ${d.startsWith('+') ? paint.green(d) : paint.red(d)}`);
    for (const p of it.problems) out.push(`    ${paint.red(p)}`);
  }
  const listed = Math.min(shown, r.items.length);
  if (listed < r.selected)
    out.push(paint.dim(`… ${r.selected - listed} more not listed (--diff all lists every one)`));
  const arrived = r.arrived > 0 ? `; ${r.arrived} arrived meanwhile, left for the next run` : '';
  out.push(
    r.execute
      ? `redriven ${r.redriven}, failed ${r.failed}, invalid (left in ${r.dlq}) ${r.invalid}${r.missing > 0 ? `, missing since the plan ${r.missing}` : ''}; ${r.remaining} remain in ${r.dlq}${arrived}; plan ${r.planId}; audit ${r.auditRef ?? '-'}`
      : `dry run over the ${r.snapshot} dead letter(s) in ${r.dlq} at the start${arrived}: ${r.toRedrive} to redrive (${r.unchanged} unchanged), ${r.invalid} invalid; nothing was sent.\nplan ${r.planId}: add --execute --plan ${r.planId} to redrive exactly these.`,
  );
  return out.join('\n');
}

/** Opens the editor on the selection (a JSON object id → payload) and returns what changed. */
function editInEditor(messages: DlqMessage[]): Record<string, Json> {
  const before = Object.fromEntries(messages.map((m) => [m.id, m.payload ?? m.raw]));
  const edited = launchEditor(`${JSON.stringify(before, null, 2)}\n`, 'dead-letters.json');
  if (edited.text === null)
    throw new OrderbusError(
      'EDITOR_FAILED',
      `${edited.editor} exited with ${edited.exit}; nothing was redriven`,
      {
        hint: 'orderbus dlq redrive DLQ --edit (again)',
      },
    );
  let after: Record<string, Json>;
  try {
    after = JSON.parse(edited.text) as Record<string, Json>;
  } catch (e) {
    throw usageError(
      'EDIT_NOT_JSON',
      `the edited file is not valid JSON (${(e as Error).message}); nothing was redriven`,
      'orderbus dlq redrive DLQ --edit (again)',
    );
  }
  const changed: Record<string, Json> = {};
  for (const [id, v] of Object.entries(after))
    if (JSON.stringify(v) !== JSON.stringify(before[id])) changed[id] = v;
  return changed;
}

async function confirmTyped(name: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`type the DLQ's name (${name}) to purge it: `);
    return answer.trim() === name;
  } finally {
    rl.close();
  }
}

export function defineDlq(program: Command): void {
  const dlq = program
    .command('dlq')
    .description(
      `dead letters on Kafka and RabbitMQ, and the outbox's parked rows (${OUTBOX_DLQ}): list, show, redrive (with edits), purge`,
    );

  dlq
    .command('list')
    .description(
      `every dead-letter topic and queue, and ${OUTBOX_DLQ} (outbox rows the relay could not encode, counted as by status): count, oldest/newest failure, counts by failure class`,
    )
    .option('--json', 'machine output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const { withOps } = await import('../src/ops/context.js');
      const { listDlqs } = await import('../src/ops/dlq/index.js');
      const list = await withOps(config, (ctx) => listDlqs(ctx));
      if (opts.json) return printJson(list);
      process.stdout.write(
        `${formatTable(
          ['DLQ', 'KIND', 'COUNT', 'OLDEST', 'NEWEST', 'BY FAILURE CLASS'],
          list.map((d) => [
            d.name,
            d.kind,
            d.count,
            d.oldest,
            d.newest,
            (d.scanned < d.count ? `in a sample of ${n(d.scanned)}: ` : '') +
              Object.entries(d.byClass)
                .sort((a, b) => b[1] - a[1])
                .map(([k, v]) => `${k}: ${v}`)
                .join(', '),
          ]),
        )}\n`,
      );
    });

  dlq
    .command('show <dlq>')
    .description('browse dead letters without removing them')
    .option('--limit <n>', 'at most N messages', '20')
    .option('--filter <expr>', "e.g. 'errorClass=HttpGone && payload.url~^http://old'")
    .option('--json', 'machine output')
    .action(async (name: string, opts: { limit: string; filter?: string; json?: boolean }, cmd: Command) => {
      const limit = positiveInt(opts.limit, '--limit') ?? 20;
      const config = configFrom(cmd);
      const { parseFilter } = await import('../src/ops/dlq/edits.js');
      parseFilter(opts.filter);
      const { withOps } = await import('../src/ops/context.js');
      const { browseDlq } = await import('../src/ops/dlq/index.js');
      let shown = 0;
      // Table output streams: each letter as it is read (a filter that matches few may read far).
      const onMessage = (m: DlqMessage) =>
        process.stdout.write(`${shown++ > 0 ? '\n' : ''}${renderMessage(m)}\n`);
      const progress = readProgress(name, Boolean(opts.filter) && !opts.json);
      const r = await withOps(config, (ctx) =>
        browseDlq(ctx, name, {
          limit,
          ...(opts.filter ? { filter: opts.filter } : {}),
          ...(opts.json ? {} : { onMessage }),
          onRead: progress.update,
        }),
      );
      progress.done();
      if (opts.json) return printJson(r.messages);
      if (r.messages.length === 0)
        process.stdout.write(`no dead letters${opts.filter ? ' match' : ''} in ${name}\n`);
      process.stdout.write(`${paint.dim(showFooter(name, r, limit, opts.filter !== undefined))}\n`);
    });

  dlq
    .command('redrive <dlq>')
    .description(
      `re-publish dead letters to where they came from, optionally edited (dry run until --execute); ${OUTBOX_DLQ}: un-parks the rows whose (edited) event passes its schema, and the relay publishes them`,
    )
    .option('--fix-url <old=new>', 'rewrite a URL prefix (a partner moved its endpoint)')
    .option(
      '--set <path=value>',
      'set a JSON path in the payload (repeatable; VALUE is JSON or a string)',
      collect,
    )
    .option(
      '--patch <file>',
      'apply a JSON Patch (RFC 6902, an array) or merge patch (RFC 7396, an object) to each payload',
    )
    .option('--edit', 'open $EDITOR on the selected payloads')
    .option('--filter <expr>', 'only messages matching')
    .option('--limit <n>', 'at most N messages')
    .option('--rate <n>', 'at most N messages per second')
    .option('--execute', 'really redrive (otherwise a dry run)')
    .option(
      '--plan <id>',
      'with --execute: only the dead letters of this dry run, or refuse if the DLQ changed',
    )
    .option('--diff <all>', `list every message and diff (default: the first ${DIFFS_SHOWN})`)
    .option('--json', 'machine output')
    .action(
      async (
        name: string,
        opts: {
          fixUrl?: string;
          set?: string[];
          patch?: string;
          edit?: boolean;
          filter?: string;
          limit?: string;
          rate?: string;
          execute?: boolean;
          plan?: string;
          diff?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        // Every argument is checked before anything is touched.
        if (opts.diff !== undefined && opts.diff !== 'all')
          throw usageError(
            'BAD_DIFF',
            `--diff takes 'all', got '${opts.diff}'`,
            `orderbus dlq redrive ${name} --diff all`,
          );
        const diffAll = opts.diff === 'all';
        const edits = await import('../src/ops/dlq/edits.js');
        const fixUrl = opts.fixUrl !== undefined ? edits.parseFixUrl(opts.fixUrl) : undefined;
        const set = (opts.set ?? []).map(edits.parseSet);
        const patch = opts.patch !== undefined ? edits.readPatch(opts.patch) : undefined;
        edits.parseFilter(opts.filter);
        const limit = positiveInt(opts.limit, '--limit');
        const rate = positiveInt(opts.rate, '--rate');
        const config = configFrom(cmd);
        const { withOps } = await import('../src/ops/context.js');
        const { redriveDlq, showDlq, redriveExitCode } = await import('../src/ops/dlq/index.js');
        const { commandTarget, formatTarget } = await import('../src/ops/target.js');
        const result = await withOps(config, async (ctx) => {
          let replacements: Record<string, Json> | undefined;
          if (opts.edit) {
            const selection = await showDlq(ctx, name, {
              limit: limit ?? 1000,
              ...(opts.filter ? { filter: opts.filter } : {}),
            });
            replacements = editInEditor(selection);
          }
          const redriven = await redriveDlq(ctx, name, {
            ...(fixUrl ? { fixUrl } : {}),
            set,
            ...(patch !== undefined ? { patch } : {}),
            ...(replacements ? { replacements } : {}),
            ...(opts.filter ? { filter: opts.filter } : {}),
            ...(limit ? { limit } : {}),
            ...(rate ? { rate } : {}),
            execute: opts.execute ?? false,
            ...(opts.plan !== undefined ? { plan: opts.plan } : {}),
            ...(diffAll ? { itemsKept: Number.POSITIVE_INFINITY } : {}),
            command: process.argv.slice(2).join(' '),
            ...(opts.execute && !opts.json ? { onProgress: progressBar('redrive') } : {}),
          });
          return { ...redriven, cluster: await commandTarget(ctx) };
        });
        if (opts.json) printJson(result);
        else
          process.stdout.write(
            `${formatTarget(result.cluster)}\n${renderRedrive(result, diffAll ? Number.POSITIVE_INFINITY : DIFFS_SHOWN)}\n`,
          );
        process.exitCode = redriveExitCode(result);
      },
    );

  dlq
    .command('purge <dlq>')
    .description(
      `remove every dead letter (recorded in the audit trail); dry run until --execute. ${OUTBOX_DLQ}: marks the rows discarded (kept with the purge's audit id, never sent, no longer counted), deletes none`,
    )
    .option('--execute', 'really purge')
    .option(
      '--plan <id>',
      'with --execute: only the dead letters of this dry run, or refuse if the DLQ changed',
    )
    .option('--yes', 'do not ask for the name to be typed')
    .option('--json', 'machine output')
    .action(
      async (
        name: string,
        opts: { execute?: boolean; plan?: string; yes?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const config = configFrom(cmd);
        const { withOps } = await import('../src/ops/context.js');
        const { purgeDlq } = await import('../src/ops/dlq/index.js');
        const { commandTarget, formatTarget } = await import('../src/ops/target.js');
        const result = await withOps(config, async (ctx) => {
          const cluster = await commandTarget(ctx);
          if (!opts.json) log(formatTarget(cluster));
          // What is confirmed is what is purged: the plan shown here, or the one given.
          const plan = await purgeDlq(ctx, name, {
            execute: false,
            ...(opts.plan ? { plan: opts.plan } : {}),
          });
          if (!opts.execute) return { ...plan, cluster };
          if (opts.plan === undefined && !opts.json)
            log(`${plan.count} dead letter(s) in ${name} would be purged (plan ${plan.planId})`);
          if (!opts.yes && !(await confirmTyped(name)))
            throw new OrderbusError('NOT_CONFIRMED', `the name typed was not ${name}; nothing was purged`, {
              exitCode: ExitCode.unsafe,
              hint: `orderbus dlq purge ${name} --execute (and type ${name}), or --yes in scripts`,
            });
          const purged = await purgeDlq(ctx, name, {
            execute: true,
            plan: opts.plan ?? plan.planId,
            command: process.argv.slice(2).join(' '),
          });
          return { ...purged, cluster };
        });
        if (opts.json) return printJson(result);
        log(
          result.execute
            ? `purged ${result.count} dead letter(s) from ${name}${result.arrived > 0 ? `; ${result.arrived} arrived meanwhile and were left` : ''}; plan ${result.planId}; audit ${result.auditRef ?? '-'}`
            : `dry run: ${result.count} dead letter(s) in ${name} would be purged (plan ${result.planId}). Add --execute --plan ${result.planId}.`,
        );
      },
    );
}

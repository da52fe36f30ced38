import chalk from 'chalk';
import { noColor } from '../src/config.js';

/** Machine output: one JSON document on stdout. */
export function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

/** Logs and progress go to stderr so stdout stays parseable. */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export type Cell = string | number | boolean | null | undefined;

/** A plain aligned table (numbers right-aligned), like kafka-consumer-groups.sh prints. */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) =>
    Math.max(visibleLength(h), ...text.map((r) => visibleLength(r[i] ?? ''))),
  );
  const numeric = headers.map(
    (_, i) =>
      rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? pad(c, widths[i] ?? 0, 'left') : pad(c, widths[i] ?? 0, 'right')))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => paint.bold(h))), ...text.map(line)].join('\n');
}

export function printTable(headers: string[], rows: Cell[][]): void {
  process.stdout.write(`${formatTable(headers, rows)}\n`);
}

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

function pad(s: string, width: number, side: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - visibleLength(s)));
  return side === 'left' ? fill + s : s + fill;
}

/**
 * Colour as chalk's level says (a terminal on stdout, or FORCE_COLOR=1|2|3 even into a pipe;
 * FORCE_COLOR=0 turns it off), and never with NO_COLOR set (https://no-color.org).
 */
export const colorEnabled = (): boolean => chalk.level > 0 && !noColor();
const enabled = colorEnabled;

export const paint = {
  bold: (s: string) => (enabled() ? chalk.bold(s) : s),
  red: (s: string) => (enabled() ? chalk.red(s) : s),
  green: (s: string) => (enabled() ? chalk.green(s) : s),
  yellow: (s: string) => (enabled() ? chalk.yellow(s) : s),
  dim: (s: string) => (enabled() ? chalk.dim(s) : s),
  status: (s: string) => {
    if (!enabled()) return s;
    if (s === 'OK' || s === 'up') return chalk.green(s);
    if (s === 'WARN' || s === 'REWIND') return chalk.yellow(s);
    return chalk.red(s);
  },
};

/** A command's result: one JSON document with --json, else its human rendering. */
export function printResult<T>(data: T, json: boolean | undefined, render: (data: T) => string): void {
  if (json) printJson(data);
  else process.stdout.write(`${render(data)}\n`);
}

/** A health report, printed like any result; the command exits 1 when it is not healthy. */
export function printHealth<T extends { healthy: boolean }>(
  report: T,
  json: boolean | undefined,
  render: (report: T) => string,
): void {
  printResult(report, json, render);
  if (!report.healthy) process.exitCode = 1;
}

/**
 * One line on stdout, waiting when the pipe is full, so a reader streaming records into a slow
 * consumer (`| less`) holds one batch in memory rather than the whole range.
 */
export async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`))
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** An AbortSignal that fires on Ctrl-C or when stdout's reader goes away (`| head`). */
export function stopSignal(): AbortSignal {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stop.abort();
  });
  return stop.signal;
}

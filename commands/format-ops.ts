import type { ComponentStatus } from '../src/ops/health.js';
import { formatTable, paint } from './output.js';

/** Human formats shared by the ops commands. */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v < 1000) return `${Math.round(v)}ms`;
  if (v < 60000) return `${(v / 1000).toFixed(1)}s`;
  if (v < 3600000) return `${Math.floor(v / 60000)}m${Math.round((v % 60000) / 1000)}s`;
  return `${Math.floor(v / 3600000)}h${Math.round((v % 3600000) / 60000)}m`;
}

export function eta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '∞';
  return ms(seconds * 1000);
}

/** A one-line progress bar on stderr when it is a terminal. */
export function progressBar(label: string): (done: number, total: number) => void {
  if (!process.stderr.isTTY) return () => undefined;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const f = total > 0 ? Math.min(1, done / total) : 1;
    const bar = '█'.repeat(Math.round(f * width)).padEnd(width, '░');
    process.stderr.write(`\r${label} ${bar} ${done}/${total}${done >= total ? '\n' : ''}`);
  };
}

/** The component table of `status`, and with `full` the one of `stack status` (version, PID, detail). */
export function formatComponents(components: ComponentStatus[], full = false): string {
  return formatTable(
    ['COMPONENT', 'STATUS', 'ADDRESS', ...(full ? ['VERSION', 'PID', 'DETAIL'] : [])],
    components.map((c) => [
      c.name,
      // Why it is down, when the check tells it: refused, timed out, auth…
      c.reason ? `${paint.status(c.status)} (${c.reason})` : paint.status(c.status),
      c.address,
      ...(full ? [c.version, c.pid, c.detail] : []),
    ]),
  );
}

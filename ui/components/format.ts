/** Pure text helpers shared by the console's components. */
export function fit(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const t = s.length > width ? `${s.slice(0, Math.max(0, width - 1))}…` : s;
  return align === 'left' ? t.padEnd(width) : t.padStart(width);
}

export function humanNumber(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (Math.abs(n) >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (Math.abs(n) >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return String(Math.round(n));
}

export function humanDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function rate(n: number): string {
  return n >= 100 ? `${Math.round(n)}/s` : `${n.toFixed(1)}/s`;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the last `width` values, scaled to their own maximum. */
export function sparkline(values: number[], width: number): string {
  const tail = values.slice(-width);
  const max = Math.max(1, ...tail);
  return tail
    .map((v) => BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))] ?? ' ')
    .join('')
    .padStart(width);
}

const SEVERITY: Record<string, number> = { ERR: 5, STOP: 4, STALL: 3, REWIND: 2, WARN: 1, OK: 0 };

export function severity(status: string): number {
  return SEVERITY[status] ?? 0;
}

export function statusColor(status: string): 'green' | 'yellow' | 'red' | undefined {
  if (status === 'OK' || status === 'up') return 'green';
  if (status === 'WARN' || status === 'REWIND' || status === 'degraded') return 'yellow';
  return 'red';
}

/** The `size` rows around the cursor that fit on screen, and how many of the list are not shown. */
export function windowOf<T>(
  rows: T[],
  cursor: number,
  size: number,
): { start: number; rows: T[]; hidden: number } {
  const fits = Math.max(0, size);
  const start = Math.max(0, Math.min(cursor - fits + 1, rows.length - fits));
  const shown = rows.slice(start, start + fits);
  return { start, rows: shown, hidden: rows.length - shown.length };
}

/**
 * Lines for a list of `n` rows given `lines` on screen: all of them when they fit, else one line
 * fewer and a `+N more` line (a list that hides rows says so).
 */
export function rowsIn(n: number, lines: number): number {
  return n <= lines ? n : Math.max(1, lines - 1);
}

/**
 * Two lists sharing `room` lines (each needs at least one, for its rows or its "no …" line): both
 * whole when they fit; otherwise the shorter keeps what it needs up to half, the other gets the rest.
 */
export function splitRoom(room: number, a: number, b: number): [number, number] {
  const needA = Math.max(1, a);
  const needB = Math.max(1, b);
  if (needA + needB <= room) return [needA, needB];
  let la = Math.min(needA, Math.max(Math.ceil(room / 2), room - needB));
  const lb = Math.max(1, Math.min(needB, room - la));
  la = Math.max(1, Math.min(needA, room - lb));
  return [la, lb];
}

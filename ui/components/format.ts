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

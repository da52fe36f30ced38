import { randomUUID } from 'node:crypto';
import { postJson } from '../../http/json-client.js';

/**
 * The order generator: places realistic orders through the real checkout API at a steady rate
 * (open loop: a slow server does not slow the arrivals down), optionally with a burst in the
 * middle third. Mix: mostly 1–3 in-stock SKUs, some out of stock, some with a declining card.
 */
export interface LoadOptions {
  url: string;
  ratePerSecond: number;
  durationMs: number;
  /** Multiplies the rate during the middle third of the run. */
  burstFactor?: number;
  outOfStockRatio?: number;
  declineRatio?: number;
  maxInFlight?: number;
  signal?: AbortSignal;
  onOrder?: (orderId: string, kind: OrderKind) => void;
}

export type OrderKind = 'normal' | 'out-of-stock' | 'declined';

export interface LoadSummary {
  placed: number;
  attempted: number;
  byStatus: Record<string, number>;
  /** Answers other than 2xx by status and error code (`503 overloaded`). */
  byError: Record<string, number>;
  errors: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  durationMs: number;
  achievedRate: number;
  orderIds: Record<OrderKind, string[]>;
}

export function sampleOrder(kind: OrderKind, n: number): Record<string, unknown> {
  const items =
    kind === 'out-of-stock'
      ? [{ sku: 'SKU-OOS-1', quantity: 1, unitPriceCents: 1999 }]
      : Array.from({ length: 1 + (n % 3) }, (_, i) => ({
          sku: `SKU-${String(((n * 7 + i * 13) % 100) + 1).padStart(4, '0')}`,
          quantity: 1 + ((n + i) % 3),
          unitPriceCents: 500 + ((n * 37 + i) % 9500),
        }));
  return {
    customerId: `cust-${n % 500}`,
    email: `customer${n % 500}@example.test`,
    currency: 'EUR',
    items,
    shippingAddress: {
      name: `Customer ${n % 500}`,
      line1: `${n % 90} Main Street`,
      city: 'Lyon',
      postalCode: '69001',
      country: 'FR',
    },
    paymentMethod: { type: 'card', token: kind === 'declined' ? 'tok_decline' : `tok_${n % 1000}` },
  };
}

export function percentileOf(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const start = Date.now();
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  const byError: Record<string, number> = {};
  const orderIds: Record<OrderKind, string[]> = { normal: [], 'out-of-stock': [], declined: [] };
  let attempted = 0;
  let errors = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const maxInFlight = o.maxInFlight ?? 2000;
  const oos = o.outOfStockRatio ?? 0.05;
  const decline = o.declineRatio ?? 0.05;
  const rateAt = (elapsed: number) =>
    o.burstFactor && elapsed > o.durationMs / 3 && elapsed < (2 * o.durationMs) / 3
      ? o.ratePerSecond * o.burstFactor
      : o.ratePerSecond;
  let due = 0;
  let last = start;
  const place = async (n: number) => {
    const r = Math.random();
    const kind: OrderKind = r < oos ? 'out-of-stock' : r < oos + decline ? 'declined' : 'normal';
    const t0 = performance.now();
    try {
      const res = await postJson(
        `${o.url}/api/checkout`,
        JSON.stringify(sampleOrder(kind, n)),
        { 'idempotency-key': randomUUID() },
        10_000,
      );
      const body = parseOr(res.text, {}) as { orderId?: string; error?: unknown };
      latencies.push(performance.now() - t0);
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      if (res.status >= 300) {
        const what = `${res.status} ${typeof body.error === 'string' ? body.error : '?'}`;
        byError[what] = (byError[what] ?? 0) + 1;
      }
      if (res.status === 201 && body.orderId) {
        orderIds[kind].push(body.orderId);
        o.onOrder?.(body.orderId, kind);
      }
    } catch {
      errors++;
      latencies.push(performance.now() - t0);
    }
  };
  while (!o.signal?.aborted) {
    const now = Date.now();
    const elapsed = now - start;
    if (elapsed >= o.durationMs) break;
    due += ((now - last) / 1000) * rateAt(elapsed);
    last = now;
    while (due >= 1 && inFlight < maxInFlight) {
      due -= 1;
      attempted++;
      inFlight++;
      const p = place(attempted).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all([...pending]);
  const sorted = [...latencies].sort((a, b) => a - b);
  const durationMs = Date.now() - start;
  const placed = orderIds.normal.length + orderIds['out-of-stock'].length + orderIds.declined.length;
  return {
    placed,
    attempted,
    byStatus,
    byError,
    errors,
    latencyMs: {
      p50: percentileOf(sorted, 50),
      p95: percentileOf(sorted, 95),
      p99: percentileOf(sorted, 99),
      max: sorted[sorted.length - 1] ?? 0,
    },
    durationMs,
    achievedRate: placed / (durationMs / 1000),
    orderIds,
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pool } from '../adapters/postgres.js';
import { HttpError, JsonServer, readJson, sendJson } from '../http/json-server.js';

/**
 * A simulated external provider with the semantics of a real one: idempotency keys (a retried
 * key replays the first response and never creates a second ledger entry), a durable ledger of
 * what happened, and fault knobs (latency, error rate, down, timeout, moved URL) for drills.
 * The admin endpoints live on a second port so a provider that is "down" can still be healed.
 */
export type ProviderName = 'payment' | 'shipping' | 'email' | 'webhook';

export interface Faults {
  latencyMs?: number | [number, number];
  errorRate?: number;
  errorStatus?: number;
  down?: false | 'refuse' | '503';
  timeout?: boolean;
  movedFrom?: string;
  movedTo?: string;
}

export interface ProviderRequest {
  method: string;
  path: string;
  body: Record<string, unknown>;
  idempotencyKey: string | undefined;
}

export interface ProviderResult {
  status: number;
  body: Record<string, unknown>;
  /** What the provider did, for its ledger. Omitted for answers that changed nothing. */
  ledger?: { kind: string; orderId?: string; data: Record<string, unknown> };
}

export type Route = (req: ProviderRequest, provider: Provider) => Promise<ProviderResult>;

export interface LedgerEntry {
  id: number;
  kind: string;
  key: string;
  orderId: string | null;
  at: string;
  data: Record<string, unknown>;
}

export interface Ledger {
  entries: LedgerEntry[];
  counts: Record<string, number>;
  /** Entries beyond the first per (kind, order): a second charge, a second email of a template… */
  duplicates: number;
}

export class Provider {
  faults: Faults = {};
  private readonly main: JsonServer;
  private readonly admin: JsonServer;
  private mainPort = 0;

  constructor(
    readonly name: ProviderName,
    private readonly pool: Pool,
    private readonly route: Route,
    /** Namespaces ledger rows (tests run several providers of one name side by side). */
    readonly scope: string = name,
  ) {
    this.main = new JsonServer((req, res) => this.handle(req, res, false));
    this.admin = new JsonServer((req, res) => this.handle(req, res, true));
  }

  get port(): number {
    return this.mainPort;
  }

  get adminPort(): number {
    return this.admin.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.mainPort}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.admin.port}`;
  }

  async start(port = 0, adminPort = 0): Promise<void> {
    this.mainPort = await this.main.listen(port);
    await this.admin.listen(adminPort);
  }

  async stop(): Promise<void> {
    await this.main.close();
    await this.admin.close();
  }

  async setFaults(faults: Faults): Promise<void> {
    this.faults = { ...faults };
    if (faults.down === 'refuse') await this.main.close();
    else if (!this.main.listening) await this.main.listen(this.mainPort);
  }

  async reset(): Promise<void> {
    await this.setFaults({});
    await this.pool.query('DELETE FROM provider_ledger WHERE provider = $1', [this.scope]);
    await this.pool.query('DELETE FROM provider_requests WHERE provider = $1', [this.scope]);
  }

  async ledger(): Promise<Ledger> {
    const { rows } = await this.pool.query<{
      id: string;
      kind: string;
      idempotency_key: string;
      order_id: string | null;
      at: Date;
      data: Record<string, unknown>;
    }>(
      'SELECT id, kind, idempotency_key, order_id, at, data FROM provider_ledger WHERE provider = $1 ORDER BY id',
      [this.scope],
    );
    const entries = rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      key: r.idempotency_key,
      orderId: r.order_id,
      at: r.at.toISOString(),
      data: r.data,
    }));
    const counts: Record<string, number> = {};
    const seen = new Set<string>();
    let duplicates = 0;
    for (const e of entries) {
      counts[e.kind] = (counts[e.kind] ?? 0) + 1;
      const k = `${e.kind}|${e.orderId ?? e.key}|${JSON.stringify(e.data.template ?? e.data.path ?? '')}`;
      if (seen.has(k)) duplicates++;
      seen.add(k);
    }
    return { entries, counts, duplicates };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, adminPort: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://provider');
    const path = url.pathname;
    if (path === '/ledger' && req.method === 'GET') return sendJson(res, 200, await this.ledger());
    if (path === '/admin/faults') {
      if (req.method === 'GET') return sendJson(res, 200, this.faults);
      if (req.method === 'PUT') {
        const body = (await readJson(req, 64 * 1024)) as Faults | undefined;
        await this.setFaults(body ?? {});
        return sendJson(res, 200, this.faults);
      }
    }
    if (path === '/admin/reset' && req.method === 'POST') {
      await this.reset();
      return sendJson(res, 200, { reset: true });
    }
    if (path === '/health') return sendJson(res, 200, { provider: this.name, up: this.main.listening });
    if (adminPort) return sendJson(res, 404, { error: 'not_found' });
    const body = ((await readJson(req, 1024 * 1024)) ?? {}) as Record<string, unknown>;
    await this.applyLatency();
    const f = this.faults;
    if (f.timeout) {
      // Hold the request until the client gives up: what a hung provider looks like.
      await new Promise((r) => setTimeout(r, 120_000));
      res.destroy();
      return;
    }
    if (f.down === '503') return sendJson(res, 503, { error: 'unavailable' });
    if (f.errorRate && Math.random() < f.errorRate)
      return sendJson(res, f.errorStatus ?? 503, { error: 'injected_failure' });
    if (f.movedFrom && path.startsWith(f.movedFrom)) {
      const location = f.movedTo ? `${this.url}${f.movedTo}${path.slice(f.movedFrom.length)}` : undefined;
      return sendJson(res, 410, { error: 'gone', ...(location ? { location } : {}) });
    }
    const key = (req.headers['idempotency-key'] as string | undefined) ?? undefined;
    const request: ProviderRequest = { method: req.method ?? 'GET', path, body, idempotencyKey: key };
    if (!key) {
      if (req.method === 'POST') return sendJson(res, 400, { error: 'idempotency_key_required' });
      const r = await this.route(request, this);
      return sendJson(res, r.status, r.body);
    }
    // The answer is made first and stored unless the key has one already (then that one is
    // replayed): one statement for a new key, where a lookup first made two. The routes are pure
    // (no I/O), so making an answer that a replay then discards changes nothing.
    let result: ProviderResult;
    try {
      result = await this.route(request, this);
    } catch (e) {
      // A request the route refuses (400, 404) still gets the stored answer of its key.
      if (await this.replay(key, res)) return;
      throw e;
    }
    if (result.status >= 500) {
      if (await this.replay(key, res)) return;
      return sendJson(res, result.status, result.body);
    }
    const stored = await this.record(key, result);
    sendJson(res, stored.status, stored.body, stored.replayed ? { 'idempotent-replayed': 'true' } : {});
  }

  /** Sends the key's stored answer, if it has one. */
  private async replay(key: string, res: ServerResponse): Promise<boolean> {
    const stored = await this.storedResponse(key);
    if (stored) sendJson(res, stored.status, stored.body, { 'idempotent-replayed': 'true' });
    return stored !== undefined;
  }

  private async storedResponse(
    key: string,
  ): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
    const { rows } = await this.pool.query<{ status: number; body: Record<string, unknown> }>(
      'SELECT status, body FROM provider_requests WHERE provider = $1 AND idempotency_key = $2',
      [this.scope, key],
    );
    return rows[0];
  }

  /**
   * Stores the response and its ledger entry in one statement (one round trip, an implicit
   * transaction); when the key has an answer already (a retry, a redelivery, a concurrent twin
   * that stored first), nothing is stored and that answer is replayed. The commit does not
   * wait for the WAL flush (`synchronous_commit` off for this transaction only): the simulator
   * stands in for a gateway whose durability is its own, and its per-request fsync was a third
   * of the pipeline's WAL flushes — flushes every one of our own commits queues behind. Only a
   * PostgreSQL crash could lose an entry; no drill crashes PostgreSQL.
   */
  private async record(
    key: string,
    result: ProviderResult,
  ): Promise<{ status: number; body: Record<string, unknown>; replayed: boolean }> {
    const ins = await this.pool.query<{ stored: number }>(
      `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
       req AS (
         INSERT INTO provider_requests (provider, idempotency_key, status, body)
         SELECT $1::text, $2::text, $3::int, $4::jsonb FROM async
         ON CONFLICT DO NOTHING RETURNING idempotency_key)
       , ledger AS (
         INSERT INTO provider_ledger (provider, kind, idempotency_key, order_id, data)
         SELECT $1, $5, idempotency_key, $6, $7 FROM req WHERE $5::text IS NOT NULL)
       SELECT count(*)::int AS stored FROM req`,
      [
        this.scope,
        key,
        result.status,
        JSON.stringify(result.body),
        result.ledger?.kind ?? null,
        result.ledger?.orderId ?? null,
        JSON.stringify(result.ledger?.data ?? {}),
      ],
    );
    if (ins.rows[0]?.stored === 1) return { status: result.status, body: result.body, replayed: false };
    const first = await this.storedResponse(key);
    if (!first) throw new HttpError(409, { error: 'conflict' });
    return { ...first, replayed: true };
  }

  private async applyLatency(): Promise<void> {
    const l = this.faults.latencyMs;
    const ms = Array.isArray(l) ? l[0] + Math.random() * (l[1] - l[0]) : (l ?? 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}

export function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw new HttpError(400, { error: 'invalid_request', field });
  return v;
}

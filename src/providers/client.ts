import { OrderbusError, errorMessage } from '../errors.js';
import { postJson, type HttpAnswer } from '../http/json-client.js';
import type { Faults, Ledger } from './provider.js';

/**
 * How services call a provider: JSON over HTTP with an idempotency key and a timeout. The error
 * says whether a retry may help (network errors, timeouts, 429 and 5xx) or not (other 4xx).
 */
export class ProviderCallError extends OrderbusError {
  constructor(
    readonly provider: string,
    readonly status: number | null,
    message: string,
    retriable: boolean,
    readonly responseBody?: unknown,
  ) {
    super(status === null ? 'PROVIDER_UNREACHABLE' : `PROVIDER_HTTP_${status}`, message, {
      retriable,
      subject: provider,
    });
  }

  /** The failure class the DLQs group by. */
  get errorClass(): string {
    if (this.status === null) return 'ProviderUnreachable';
    if (this.status === 410) return 'HttpGone';
    if (this.status === 404) return 'HttpNotFound';
    if (this.status === 429) return 'HttpTooManyRequests';
    return this.status >= 500 ? 'HttpServerError' : 'HttpClientError';
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export interface ProviderResponse<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export async function callProvider<T>(
  url: string,
  body: unknown,
  idempotencyKey: string,
  timeoutMs = 10_000,
): Promise<ProviderResponse<T>> {
  let res: HttpAnswer;
  try {
    res = await postJson(url, JSON.stringify(body), { 'idempotency-key': idempotencyKey }, timeoutMs);
  } catch (e) {
    throw new ProviderCallError(hostOf(url), null, `${url}: ${errorMessage(e)}`, true);
  }
  const text = res.text;
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // keep the raw text
  }
  if (res.status >= 400 && res.status !== 402) {
    const retriable = res.status === 429 || res.status >= 500;
    throw new ProviderCallError(
      hostOf(url),
      res.status,
      `${url}: HTTP ${res.status} ${text.slice(0, 200)}`,
      retriable,
      parsed,
    );
  }
  return {
    status: res.status,
    body: parsed as T,
    replayed: res.headers['idempotent-replayed'] === 'true',
  };
}

/** Fault knobs and ledgers over the admin port (tests, chaos drills, the load summary). */
export const providerAdmin = {
  async faults(adminUrl: string, faults: Faults): Promise<void> {
    const r = await fetch(`${adminUrl}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok)
      throw new OrderbusError('PROVIDER_ADMIN_FAILED', `${adminUrl}/admin/faults: HTTP ${r.status}`, {
        hint: 'orderbus providers',
      });
  },
  async ledger(adminUrl: string): Promise<Ledger> {
    const r = await fetch(`${adminUrl}/ledger`, { signal: AbortSignal.timeout(10000) });
    if (!r.ok)
      throw new OrderbusError('PROVIDER_ADMIN_FAILED', `${adminUrl}/ledger: HTTP ${r.status}`, {
        hint: 'orderbus providers',
      });
    return (await r.json()) as Ledger;
  },
  async reset(adminUrl: string): Promise<void> {
    await fetch(`${adminUrl}/admin/reset`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  },
};

import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { get as httpGet } from 'node:http';
import { Agent, get as httpsGet } from 'node:https';
import type { OrderbusConfig } from '../config.js';
import { readConfigPath } from '../config-secrets.js';
import { OrderbusError, errorMessage } from '../errors.js';
import { unreachableHint } from '../local-stack.js';
import { isTlsFailure } from '../net.js';
import { redact, redactUrl } from '../redact.js';
import { SharedAjv } from './shared-ajv.js';

export { SchemaType };
export type Registry = SchemaRegistry;

/** How long one registry request may take before it counts as no answer (the codec's client and the health check). */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

/**
 * What every request to the registry carries, from one place so the codec's client and the health
 * check reach the same registry the same way: basic auth (config keeps it out of the URL), an
 * https agent trusting registry.caFile, and a timeout.
 */
export interface RegistryHttp {
  agent?: Agent;
  auth?: { username: string; password: string };
  timeoutMs: number;
}

export function registryHttp(config: OrderbusConfig): RegistryHttp {
  const r = config.registry;
  return {
    ...(r.username !== undefined ? { auth: { username: r.username, password: r.password ?? '' } } : {}),
    ...(r.caFile && r.url.startsWith('https:')
      ? { agent: new Agent({ ca: readConfigPath('registry.caFile', r.caFile), keepAlive: true }) }
      : {}),
    timeoutMs: REGISTRY_REQUEST_TIMEOUT_MS,
  };
}

/** The registry client (Confluent API) with registryHttp's settings; its JSON schemas share one Ajv. */
export function createRegistry(config: OrderbusConfig): SchemaRegistry {
  const h = registryHttp(config);
  const timeout = () => ({
    request: (req: { enhance: (e: { timeout: number }) => unknown }) => req.enhance({ timeout: h.timeoutMs }),
  });
  return new SchemaRegistry(
    {
      host: config.registry.url,
      ...(h.auth ? { auth: h.auth } : {}),
      ...(h.agent ? { agent: h.agent } : {}),
      middlewares: [timeout as never],
    },
    // SharedAjv is typed with the project's ajv, the client with its own (a major behind).
    { [SchemaType.JSON]: { ajvInstance: new SharedAjv() as never } },
  );
}

/** A registry that cannot be reached: refused credentials or certificates first (registryRefusal). */
export function registryUnreachable(config: RegistryTarget, cause: unknown): OrderbusError {
  return (
    registryRefusal(config, cause) ??
    new OrderbusError(
      'REGISTRY_UNREACHABLE',
      `cannot reach the schema registry at ${config.registry.url}: ${redact(errorMessage(cause))}`,
      {
        hint: unreachableHint(
          'registry',
          config.registry.url,
          'orderbus stack status (and orderbus stack up to start the local registry)',
          { key: 'registry.url (or leave registry out of components)', context: config.context },
        ),
        retriable: true,
        subject: config.registry.url,
        cause,
      },
    )
  );
}

/** What an error about the registry names: its URL and the context it was reached through. */
export interface RegistryTarget {
  registry: { url: string };
  context?: string | undefined;
}

/** TLS failures by text, where the registry client kept only Node's message (isTlsFailure: by code). */
const TLS_MESSAGES = /certificate|altnames|SSL routines|ERR_TLS|ERR_SSL/i;

/**
 * Whether the registry refused the credentials (401/403) or the TLS handshake failed (a certificate
 * the configured CA does not sign): undefined for anything else. The client reports a request that
 * got no answer as a 400 whose message is Node's (see registryFailure in the codec).
 */
export function registryRefusalKind(e: unknown): 'auth' | 'tls' | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { status, message } = e as { status?: unknown; message?: unknown };
  if (status === 401 || status === 403) return 'auth';
  if (isTlsFailure(e)) return 'tls';
  if (status === 400 && /Error, status 400: /.test(String(message)) && TLS_MESSAGES.test(String(message)))
    return 'tls';
  return undefined;
}

/** A registry that refused the credentials or the TLS handshake: not retriable, the hint names the keys. */
export function registryRefusal(config: RegistryTarget, cause: unknown): OrderbusError | undefined {
  const kind = registryRefusalKind(cause);
  if (!kind) return undefined;
  const where = config.context ? `context ${config.context}` : 'the configuration';
  const keys = kind === 'auth' ? 'registry.username and registry.password' : 'registry.caFile';
  return new OrderbusError(
    kind === 'auth' ? 'REGISTRY_AUTH_FAILED' : 'REGISTRY_TLS_FAILED',
    `the schema registry at ${config.registry.url} refused the ${kind === 'auth' ? 'credentials' : 'TLS connection'}: ${redact(errorMessage(cause))}`,
    {
      hint: `check ${keys} of ${where} (orderbus context show, orderbus config), then orderbus status`,
      subject: config.registry.url,
      cause,
    },
  );
}

/** Why the registry is not up, in a word (the health check's DownReason, plus a TLS failure). */
export type RegistryDownReason = 'refused' | 'timed out' | 'auth' | 'tls' | 'reset' | 'unavailable' | 'error';

export type RegistryHealth =
  { up: true; version?: string } | { up: false; reason: RegistryDownReason; detail: string };

/**
 * Ready, serving the Confluent API, and its version when it tells (Apicurio's system info); asked
 * with registryHttp's auth, CA and timeout (at most `timeoutMs` per request), as the codec asks.
 */
export async function registryHealth(
  config: OrderbusConfig,
  timeoutMs = REGISTRY_REQUEST_TIMEOUT_MS,
): Promise<RegistryHealth> {
  const h = { ...registryHttp(config), timeoutMs: Math.min(timeoutMs, REGISTRY_REQUEST_TIMEOUT_MS) };
  const origin = new URL(config.registry.url).origin;
  try {
    for (const url of [`${origin}/health/ready`, `${config.registry.url}/subjects`]) {
      const r = await registryGet(h, url);
      if (r.status === 401 || r.status === 403)
        return {
          up: false,
          reason: 'auth',
          detail: `${r.status} from ${redactUrl(url)}: the registry refused the credentials`,
        };
      if (r.status >= 300)
        return { up: false, reason: 'unavailable', detail: `${r.status} from ${redactUrl(url)}` };
    }
    const info = await registryGet(h, `${origin}/apis/registry/v3/system/info`).catch(() => undefined);
    const version = info && info.status === 200 ? parseVersion(info.body) : undefined;
    return version ? { up: true, version } : { up: true };
  } catch (e) {
    return { up: false, reason: registryDownReason(e), detail: errorMessage(e) };
  } finally {
    h.agent?.destroy();
  }
}

/** Ready and serving (registryHealth), as the dev stack's start-up wait wants it: undefined while not. */
export async function registryHealthy(config: OrderbusConfig): Promise<{ version?: string } | undefined> {
  const h = await registryHealth(config, 2000);
  return h.up ? (h.version !== undefined ? { version: h.version } : {}) : undefined;
}

function parseVersion(body: string): string | undefined {
  try {
    const v = (JSON.parse(body) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** One GET with registryHttp's settings; the body as text. */
function registryGet(h: RegistryHttp, url: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const get = u.protocol === 'https:' ? httpsGet : httpGet;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (h.auth)
    headers.authorization = `Basic ${Buffer.from(`${h.auth.username}:${h.auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = get(
      u,
      { headers, timeout: h.timeoutMs, ...(h.agent && u.protocol === 'https:' ? { agent: h.agent } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${h.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
  });
}

export function registryDownReason(e: unknown): RegistryDownReason {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'error';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT') return 'timed out';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return registryRefusalKind(e) === 'tls' ? 'tls' : 'error';
}

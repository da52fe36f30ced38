import { execFile } from 'node:child_process';
import type { ConnectionOptions } from 'node:tls';
import type { KafkaConfig, OauthbearerProviderResponse, SASLOptions } from 'kafkajs';
import type { KafkaSasl, KafkaTls, OrderbusConfig } from '../config.js';
import { readConfigPath } from '../config-secrets.js';
import { ExitCode, OrderbusError, errorMessage } from '../errors.js';
import { redact, registerSecret } from '../redact.js';
import { unreachableHint } from '../local-stack.js';
import { isTlsFailure } from '../net.js';

/** kafkajs' `ssl` and `sasl` options for the configured cluster. */
export function kafkaSecurity(k: {
  ssl: boolean | KafkaTls;
  sasl?: KafkaSasl;
}): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const sasl = kafkaSasl(k.sasl);
  return { ssl: kafkaTls(k.ssl), ...(sasl ? { sasl } : {}) };
}

/** kafkajs' `ssl` option from the config: `true`, or the CA, client certificate/key and checks. */
export function kafkaTls(ssl: boolean | KafkaTls): KafkaConfig['ssl'] {
  if (typeof ssl === 'boolean') return ssl;
  if (!ssl.enabled) return false;
  const o: ConnectionOptions = { rejectUnauthorized: ssl.rejectUnauthorized };
  if (ssl.caFile) o.ca = [readConfigPath('kafka.ssl.caFile', ssl.caFile)];
  if (ssl.certFile) o.cert = readConfigPath('kafka.ssl.certFile', ssl.certFile);
  if (ssl.keyFile) o.key = readConfigPath('kafka.ssl.keyFile', ssl.keyFile);
  if (ssl.servername) o.servername = ssl.servername;
  return o;
}

/** kafkajs' `sasl` option; OAUTHBEARER gets its token from the configured command. */
export function kafkaSasl(sasl: KafkaSasl | undefined): SASLOptions | undefined {
  if (!sasl) return undefined;
  if (sasl.mechanism === 'oauthbearer')
    return { mechanism: 'oauthbearer', oauthBearerProvider: tokenFromCommand(sasl.tokenCommand) };
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

/** Refresh this long before the token expires, so no connection authenticates with a stale one. */
const REFRESH_MARGIN_MS = 60_000;
/** How long a token without an expiry (neither `expires_in` nor a JWT `exp`) is reused. */
const UNKNOWN_LIFETIME_MS = 5 * 60_000;

/**
 * Runs `command` (no shell) for an OAUTHBEARER token and caches it until shortly before it
 * expires. The command prints the token, or JSON `{ access_token | token, expires_in (s) }`
 * as identity providers' token endpoints answer; a JWT's `exp` claim is honoured too.
 */
export function tokenFromCommand(
  command: string[],
  now: () => number = Date.now,
): () => Promise<OauthbearerProviderResponse> {
  let cached: { value: string; refreshAt: number } | undefined;
  let pending: Promise<OauthbearerProviderResponse> | undefined;
  const fetchToken = async () => {
    const out = await run(command);
    const { value, expiresAt } = parseToken(out, now());
    registerSecret(value);
    const lifetime = (expiresAt ?? now() + UNKNOWN_LIFETIME_MS) - now();
    cached = { value, refreshAt: now() + Math.max(lifetime - REFRESH_MARGIN_MS, lifetime / 2) };
    return { value };
  };
  return () => {
    if (cached && now() < cached.refreshAt) return Promise.resolve({ value: cached.value });
    pending ??= fetchToken().finally(() => (pending = undefined));
    return pending;
  };
}

function run(command: string[]): Promise<string> {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    execFile(file ?? '', args, { timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      reject(
        new OrderbusError(
          'KAFKA_TOKEN_COMMAND_FAILED',
          `the OAUTHBEARER token command ${file} failed: ${redact(errorMessage(err))} ${redact(stderr.trim().slice(0, 200))}`.trim(),
          {
            hint: `run ${command.join(' ')} yourself, then check kafka.sasl.tokenCommand in orderbus config`,
            exitCode: ExitCode.error,
          },
        ),
      );
    });
  });
}

export function parseToken(out: string, nowMs: number): { value: string; expiresAt?: number } {
  const text = out.trim();
  let value = text;
  let expiresAt: number | undefined;
  if (text.startsWith('{')) {
    const o = JSON.parse(text) as { access_token?: string; token?: string; expires_in?: number };
    value = o.access_token ?? o.token ?? '';
    if (typeof o.expires_in === 'number') expiresAt = nowMs + o.expires_in * 1000;
  }
  if (!value)
    throw new OrderbusError('KAFKA_TOKEN_COMMAND_FAILED', 'the OAUTHBEARER token command printed no token', {
      hint: 'it must print the token, or JSON with access_token and expires_in',
    });
  expiresAt ??= jwtExpiry(value);
  return expiresAt === undefined ? { value } : { value, expiresAt };
}

function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A connection refused for its credentials or its certificates: not retriable, and the hint
 * points at the settings rather than at starting a stack. Undefined for any other failure.
 */
export function kafkaAuthFailure(
  config: { kafka: { brokers: string[] }; context?: string },
  cause: unknown,
): OrderbusError | undefined {
  const where = config.context ? `context ${config.context}` : 'the configuration';
  for (
    let e = cause as { name?: string; code?: string; cause?: unknown } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    const sasl = e.name === 'KafkaJSSASLAuthenticationError';
    const tls = isTlsFailure(e);
    if (!sasl && !tls) continue;
    const what = sasl ? 'authentication' : 'TLS';
    return new OrderbusError(
      sasl ? 'KAFKA_AUTH_FAILED' : 'KAFKA_TLS_FAILED',
      `Kafka at ${config.kafka.brokers.join(',')} refused the ${what}: ${redact(errorMessage(e))}`,
      {
        hint: `check kafka.${sasl ? 'sasl' : 'ssl'} of ${where} (orderbus context show, orderbus config)`,
        subject: config.kafka.brokers.join(','),
        cause,
      },
    );
  }
  return undefined;
}

/** A connection that failed: refused credentials or certificates, or brokers that do not answer. */
export function kafkaUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  return (
    kafkaAuthFailure(config, cause) ??
    new OrderbusError(
      'KAFKA_UNREACHABLE',
      `cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${redact(errorMessage(cause))}`,
      {
        hint: unreachableHint(
          'kafka',
          config.kafka.brokers,
          'orderbus stack status (and orderbus stack up to start the local stack)',
          { key: 'the bootstrap servers (--bootstrap-server, kafka.brokers)', context: config.context },
        ),
        retriable: true,
        subject: config.kafka.brokers.join(','),
        cause,
      },
    )
  );
}

import { configError, isObject, onlyKeys, parsers, unknownKeyError, type Parser } from './config-parsers.js';
import { readSecret, secretKeys, type Env } from './config-secrets.js';
import { closeMatches } from './errors.js';

export type KafkaSasl =
  | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
  /** The token is printed by `tokenCommand` (run without a shell), cached and refreshed before it expires. */
  | { mechanism: 'oauthbearer'; tokenCommand: string[] };

/** TLS to the brokers: `true` (system CAs), or the CA, a client certificate and key (mTLS) and checks. */
export interface KafkaTls {
  enabled: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

const PASSWORD_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'];
const SASL_FORM = '{ mechanism: plain|scram-sha-256|scram-sha-512|oauthbearer, username, password… }';

function sasl(key: string, v: unknown, src: string, env: Env): KafkaSasl | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw configError(key, SASL_FORM, v, src);
  onlyKeys(key, v, ['mechanism', 'username', 'tokenCommand', ...secretKeys('password')], src);
  const mechanism = typeof v.mechanism === 'string' ? v.mechanism.toLowerCase() : v.mechanism;
  if (mechanism === 'oauthbearer') {
    return { mechanism, tokenCommand: parsers.command(`${key}.tokenCommand`, v.tokenCommand, src) };
  }
  if (typeof mechanism !== 'string' || !PASSWORD_MECHANISMS.includes(mechanism))
    throw configError(
      `${key}.mechanism`,
      'plain, scram-sha-256, scram-sha-512 or oauthbearer',
      v.mechanism,
      src,
    );
  const password = readSecret(key, v, 'password', src, env);
  if (password === undefined)
    throw configError(`${key}.password`, 'a password (or passwordFile, passwordEnv)', undefined, src);
  return {
    mechanism: mechanism as 'plain',
    username: parsers.string(`${key}.username`, v.username, src),
    password,
  };
}

const TLS_KEYS = ['enabled', 'caFile', 'certFile', 'keyFile', 'servername', 'rejectUnauthorized'] as const;

function tls(key: string, v: unknown, src: string): boolean | KafkaTls {
  if (!isObject(v)) return parsers.bool(key, v, src);
  onlyKeys(key, v, TLS_KEYS, src);
  const out: KafkaTls = {
    enabled: v.enabled === undefined ? true : parsers.bool(`${key}.enabled`, v.enabled, src),
    rejectUnauthorized:
      v.rejectUnauthorized === undefined
        ? true
        : parsers.bool(`${key}.rejectUnauthorized`, v.rejectUnauthorized, src),
  };
  for (const f of ['caFile', 'certFile', 'keyFile'] as const)
    if (v[f] !== undefined) out[f] = parsers.path(`${key}.${f}`, v[f], src);
  if (v.servername !== undefined) out.servername = parsers.string(`${key}.servername`, v.servername, src);
  if ((out.certFile === undefined) !== (out.keyFile === undefined))
    throw configError(`${key}.certFile`, 'certFile and keyFile together (mTLS)', undefined, src);
  return out;
}

function thresholds(key: string, v: unknown, src: string) {
  if (!isObject(v))
    throw configError(key, '{ "<group>": { warnLag, errLag, warnTimeLagMs, errTimeLagMs } }', v, src);
  const fields = ['warnLag', 'errLag', 'warnTimeLagMs', 'errTimeLagMs'] as const;
  const out: Record<string, Partial<Record<(typeof fields)[number], number>>> = {};
  for (const [group, t] of Object.entries(v)) {
    if (!isObject(t)) throw configError(`${key}.${group}`, `{ ${fields.join(', ')} }`, t, src);
    onlyKeys(`${key}.${group}`, t, fields, src);
    const entry: (typeof out)[string] = {};
    for (const f of fields)
      if (t[f] !== undefined)
        entry[f] = parsers.int(0, Number.MAX_SAFE_INTEGER)(`${key}.${group}.${f}`, t[f], src);
    out[group] = entry;
  }
  return out;
}

/** Name patterns (`*` any characters): a list, or comma-separated text. */
function namePatterns(key: string, v: unknown, src: string): string[] {
  const list: unknown = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || p === ''))
    throw configError(key, 'a list of name patterns such as ["*.dlq", "*-dlt"] (or "*.dlq,*-dlt")', v, src);
  return list as string[];
}

/** The components of a target, in the order `status` shows them. */
export const COMPONENTS = ['kafka', 'rabbitmq', 'postgres', 'registry'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Comma-separated text as a list (empty items dropped); anything else as it is. */
function listOf(v: unknown): unknown {
  return typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v;
}

/** A subset of COMPONENTS: a list, or comma-separated text. */
function components(key: string, v: unknown, src: string): Component[] {
  const list = listOf(v);
  if (!Array.isArray(list) || list.some((c) => !COMPONENTS.includes(c as Component)))
    throw configError(key, `a list of ${COMPONENTS.join(', ')} (or comma-separated text)`, v, src);
  return COMPONENTS.filter((c) => list.includes(c));
}

export interface SchemaField {
  path: string;
  parse: (key: string, v: unknown, src: string, env: Env) => unknown;
  env?: string;
  /** A secret: also `<key>File` / `<key>Env` in a file, `<ENV>_FILE` in the environment. */
  secret?: boolean;
}

const http = parsers.url(['http', 'https']);
/** Comma-separated (or a JSON array of) URLs; empty means none. */
const urlList =
  (protocols: string[]): Parser<string[]> =>
  (key, v, src) => {
    const list = listOf(v);
    if (!Array.isArray(list)) throw configError(key, `a list of URLs (${protocols.join('|')})`, v, src);
    return list.map((u) => parsers.url(protocols)(key, u, src));
  };

const queueType: Parser<'classic' | 'quorum'> = (key, v, src) => {
  if (v !== 'classic' && v !== 'quorum') throw configError(key, 'classic or quorum', v, src);
  return v;
};

const f = (path: string, parse: Parser, env?: string, secret?: boolean): SchemaField => ({
  path,
  parse,
  ...(env ? { env } : {}),
  ...(secret ? { secret } : {}),
});

/** Every settable key: its dotted path, parser, and environment variable. */
export const schema: SchemaField[] = [
  f('kafka.brokers', parsers.brokers, 'ORDERBUS_KAFKA_BROKERS'),
  f('kafka.clientId', parsers.string, 'ORDERBUS_KAFKA_CLIENT_ID'),
  f('kafka.clusterId', parsers.string, 'ORDERBUS_KAFKA_CLUSTER_ID'),
  f('kafka.ssl', tls, 'ORDERBUS_KAFKA_SSL'),
  { path: 'kafka.sasl', parse: sasl },
  f('kafka.connectionTimeoutMs', parsers.int(100, 600000), 'ORDERBUS_KAFKA_CONNECTION_TIMEOUT_MS'),
  f('kafka.requestTimeoutMs', parsers.int(100, 600000), 'ORDERBUS_KAFKA_REQUEST_TIMEOUT_MS'),
  f('kafka.groupPrefix', parsers.optionalString, 'ORDERBUS_KAFKA_GROUP_PREFIX'),
  f('kafka.sessionTimeoutMs', parsers.int(6000, 300000), 'ORDERBUS_KAFKA_SESSION_TIMEOUT_MS'),
  f('rabbitmq.url', parsers.url(['amqp', 'amqps']), 'ORDERBUS_RABBITMQ_URL'),
  f('rabbitmq.managementUrl', http, 'ORDERBUS_RABBITMQ_MANAGEMENT_URL'),
  f('rabbitmq.password', parsers.string, 'ORDERBUS_RABBITMQ_PASSWORD', true),
  f('rabbitmq.tlsCaFile', parsers.path, 'ORDERBUS_AMQP_TLS_CA_FILE'),
  f('rabbitmq.vhost', parsers.string, 'ORDERBUS_RABBITMQ_VHOST'),
  f('rabbitmq.failoverUrls', urlList(['amqp', 'amqps']), 'ORDERBUS_RABBITMQ_FAILOVER_URLS'),
  f(
    'rabbitmq.managementFailoverUrls',
    urlList(['http', 'https']),
    'ORDERBUS_RABBITMQ_MANAGEMENT_FAILOVER_URLS',
  ),
  f('rabbitmq.queueType', queueType, 'ORDERBUS_RABBITMQ_QUEUE_TYPE'),
  f('database.url', parsers.url(['postgres', 'postgresql']), 'ORDERBUS_DATABASE_URL'),
  f('database.password', parsers.string, 'ORDERBUS_DATABASE_PASSWORD', true),
  f('database.poolSize', parsers.int(1, 500), 'ORDERBUS_DATABASE_POOL_SIZE'),
  f('database.processConnections', parsers.int(4, 5000), 'ORDERBUS_DATABASE_PROCESS_CONNECTIONS'),
  f('database.schema', parsers.string, 'ORDERBUS_DATABASE_SCHEMA'),
  f('database.statementTimeoutMs', parsers.int(0, 3_600_000), 'ORDERBUS_DATABASE_STATEMENT_TIMEOUT_MS'),
  f('database.connectTimeoutMs', parsers.int(100, 600_000), 'ORDERBUS_DATABASE_CONNECT_TIMEOUT_MS'),
  f(
    'database.idleInTransactionTimeoutMs',
    parsers.int(0, 3_600_000),
    'ORDERBUS_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  ),
  f('database.keepAliveMs', parsers.int(0, 3_600_000), 'ORDERBUS_DATABASE_KEEPALIVE_MS'),
  f('database.unsafeNoErrorListeners', parsers.bool, 'ORDERBUS_UNSAFE_NO_DB_ERROR_LISTENERS'),
  f('registry.url', http, 'ORDERBUS_REGISTRY_URL'),
  f('registry.username', parsers.string, 'ORDERBUS_REGISTRY_USERNAME'),
  f('registry.password', parsers.string, 'ORDERBUS_REGISTRY_PASSWORD', true),
  f('registry.caFile', parsers.path, 'ORDERBUS_REGISTRY_CA_FILE'),
  f('registry.unsafeFailuresArePoison', parsers.bool, 'ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON'),
  f('topics.orderEvents', parsers.string, 'ORDERBUS_TOPIC_ORDER_EVENTS'),
  f('topics.orderEventsDlq', parsers.string, 'ORDERBUS_TOPIC_ORDER_EVENTS_DLQ'),
  f('topics.audit', parsers.string, 'ORDERBUS_TOPIC_AUDIT'),
  f('topics.partitions', parsers.int(1, 1000), 'ORDERBUS_TOPIC_PARTITIONS'),
  f('topics.replicationFactor', parsers.int(1, 5), 'ORDERBUS_TOPIC_REPLICATION_FACTOR'),
  f('http.host', parsers.string, 'ORDERBUS_HTTP_HOST'),
  f('http.checkoutPort', parsers.int(0, 65535), 'ORDERBUS_CHECKOUT_PORT'),
  f('http.providersPort', parsers.int(0, 65535), 'ORDERBUS_PROVIDERS_PORT'),
  f('providers.paymentUrl', http, 'ORDERBUS_PAYMENT_URL'),
  f('providers.shippingUrl', http, 'ORDERBUS_SHIPPING_URL'),
  f('providers.emailUrl', http, 'ORDERBUS_EMAIL_URL'),
  f('providers.webhookUrl', http, 'ORDERBUS_WEBHOOK_URL'),
  f('stack.dir', parsers.string, 'ORDERBUS_STACK_DIR'),
  f('stack.brokers', parsers.int(1, 3), 'ORDERBUS_STACK_BROKERS'),
  f('stack.kafkaVersion', parsers.string, 'ORDERBUS_KAFKA_VERSION'),
  f('stack.registryVersion', parsers.string, 'ORDERBUS_REGISTRY_VERSION'),
  f('stack.kafkaHeapMb', parsers.int(256, 8192), 'ORDERBUS_KAFKA_HEAP_MB'),
  f('lag.sampleSeconds', parsers.int(0, 600), 'ORDERBUS_LAG_SAMPLE_SECONDS'),
  f('lag.windowSamples', parsers.int(2, 1000), 'ORDERBUS_LAG_WINDOW_SAMPLES'),
  { path: 'lag.thresholds', parse: thresholds },
  f('dlq.kafkaPatterns', namePatterns, 'ORDERBUS_DLQ_KAFKA_PATTERNS'),
  f('dlq.rabbitPatterns', namePatterns, 'ORDERBUS_DLQ_RABBIT_PATTERNS'),
  f('workers.emailRatePerSecond', parsers.int(1, 100000), 'ORDERBUS_EMAIL_RATE'),
  f('workers.retryDelaysMs', parsers.intList, 'ORDERBUS_RETRY_DELAYS_MS'),
  f('workers.maxAttempts', parsers.int(1, 100), 'ORDERBUS_MAX_ATTEMPTS'),
  f('workers.prefetch', parsers.int(1, 10000), 'ORDERBUS_PREFETCH'),
  f('workers.partnerWebhookUrl', http, 'ORDERBUS_PARTNER_WEBHOOK_URL'),
  f('workers.unsafeAckBeforePublish', parsers.bool, 'ORDERBUS_UNSAFE_ACK_BEFORE_PUBLISH'),
  f('retention.days', parsers.int(1, 3650), 'ORDERBUS_RETENTION_DAYS'),
  f('retention.minutes', parsers.int(1, 3650 * 24 * 60), 'ORDERBUS_RETENTION_MINUTES'),
  f('rabbitPrefix', parsers.optionalString, 'ORDERBUS_RABBIT_PREFIX'),
  f('operator', parsers.string, 'ORDERBUS_OPERATOR'),
  f('readOnly', parsers.bool, 'ORDERBUS_READ_ONLY'),
  f('components', components, 'ORDERBUS_COMPONENTS'),
];

/** Keys only the top level of a config file may hold. */
export const FILE_ONLY_KEYS = ['contexts', 'currentContext', '$schema'];

/** Every key a config file (or one of its contexts) may name, secret variants included. */
function fileKeys(): string[] {
  return schema.flatMap((s) => {
    if (!s.secret) return [s.path];
    const dot = s.path.lastIndexOf('.');
    return secretKeys(s.path.slice(dot + 1)).map((k) => `${s.path.slice(0, dot + 1)}${k}`);
  });
}

/** Throws on the first key of a config object the schema does not know; values are never shown. */
export function checkKeys(o: Record<string, unknown>, src: string, extra: readonly string[] = []): void {
  const known = fileKeys();
  const all = [...known, ...extra];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const path = `${prefix}${k}`;
      if (all.includes(path)) continue;
      const isSection = known.some((p) => p.startsWith(`${path}.`));
      if (isSection && isObject(v)) walk(v, `${path}.`);
      else throw unknownKeyError('config key', path, [...known, ...extra], src);
    }
  };
  walk(o, '');
}

/** Environment variables orderbus reads that are not config keys, and prefixes kept for tooling. */
const OTHER_ENV = [
  'ORDERBUS_CONFIG',
  'ORDERBUS_CONTEXT',
  'ORDERBUS_KAFKA_SASL_MECHANISM',
  'ORDERBUS_KAFKA_SASL_USERNAME',
];
const OTHER_ENV_PREFIXES = ['ORDERBUS_BENCH_', 'ORDERBUS_TEST_'];

/** Every environment variable the configuration reads. */
export function configEnvNames(): string[] {
  const names = schema.flatMap((s) => (s.env ? (s.secret ? [s.env, `${s.env}_FILE`] : [s.env]) : []));
  return [...names, ...OTHER_ENV, ...secretEnvNames('ORDERBUS_KAFKA_SASL_PASSWORD')];
}

export function secretEnvNames(env: string): string[] {
  return [env, `${env}_FILE`];
}

/**
 * An ORDERBUS_* variable that looks like configuration (a config section's prefix, or close to a
 * known name) but is not one: most likely a typo that would otherwise be ignored silently.
 */
export function checkEnv(env: Env): void {
  const known = configEnvNames();
  const sections = [...new Set(known.map((n) => n.split('_').slice(0, 2).join('_')))];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('ORDERBUS_') || known.includes(name) || env[name] === undefined) continue;
    if (OTHER_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    const looksLikeConfig =
      sections.some((s) => name.startsWith(`${s}_`)) || closeMatches(name, known).length > 0;
    if (looksLikeConfig) throw unknownKeyError('environment variable', name, known, 'the environment');
  }
}

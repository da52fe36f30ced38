import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, OrderbusError } from './errors.js';
import { localStackConfigFile } from './paths.js';

/**
 * One validated configuration: defaults (the local stack's addresses), then an optional
 * `orderbus.config.json`, then `ORDERBUS_*` environment variables, then flags.
 * This is the only module that reads `process.env`.
 */
export interface LagThresholds {
  /** Total lag (records) above which a group is WARN. */
  warnLag?: number;
  /** Total lag above which a group is ERR. */
  errLag?: number;
  /** Time lag (ms) above which a group is WARN / ERR. */
  warnTimeLagMs?: number;
  errTimeLagMs?: number;
}

export interface OrderbusConfig {
  kafka: {
    brokers: string[];
    clientId: string;
    ssl: boolean;
    sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
    connectionTimeoutMs: number;
    requestTimeoutMs: number;
    /** Prefix of every consumer group the pipeline uses (tests use their namespace). */
    groupPrefix: string;
    /** Consumer group session timeout: how long a killed consumer's partitions wait before reassignment. */
    sessionTimeoutMs: number;
  };
  rabbitmq: { url: string; managementUrl: string; tlsCaFile?: string; vhost: string };
  database: { url: string; poolSize: number; processConnections: number; schema: string };
  registry: { url: string };
  topics: {
    orderEvents: string;
    orderEventsDlq: string;
    audit: string;
    partitions: number;
    replicationFactor: number;
  };
  http: { host: string; checkoutPort: number; providersPort: number };
  /** Base URLs of the (simulated) external providers. */
  providers: { paymentUrl: string; shippingUrl: string; emailUrl: string; webhookUrl: string };
  stack: { dir: string; brokers: number; kafkaVersion: string; registryVersion: string; kafkaHeapMb: number };
  lag: { sampleSeconds: number; windowSamples: number; thresholds: Record<string, LagThresholds> };
  workers: {
    emailRatePerSecond: number;
    retryDelaysMs: number[];
    maxAttempts: number;
    prefetch: number;
    /** Base URL of the partner's webhook endpoint (tasks carry the full URL). */
    partnerWebhookUrl: string;
    /** TEST-ONLY: the dispatcher commits Kafka offsets before RabbitMQ confirmed (drills prove they catch the loss). */
    unsafeAckBeforePublish: boolean;
  };
  /** Prefix of every RabbitMQ exchange and queue name (tests use their namespace). */
  rabbitPrefix: string;
  /** Identifies the operator in audit records. */
  operator: string;
}

type Env = Record<string, string | undefined>;

export const defaultConfig = (): OrderbusConfig => ({
  kafka: {
    brokers: ['127.0.0.1:9092'],
    clientId: 'orderbus',
    ssl: false,
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 10000,
    groupPrefix: '',
    sessionTimeoutMs: 30000,
  },
  rabbitmq: {
    url: 'amqp://guest:guest@127.0.0.1:5672',
    managementUrl: 'http://guest:guest@127.0.0.1:15672',
    vhost: '/',
  },
  database: {
    url: 'postgres://postgres@127.0.0.1:5432/orderbus',
    poolSize: 10,
    processConnections: 60,
    schema: 'public',
  },
  registry: { url: 'http://127.0.0.1:8081/apis/ccompat/v7' },
  topics: {
    orderEvents: 'order.events',
    orderEventsDlq: 'order.events.dlq',
    audit: 'orderbus.audit',
    partitions: 12,
    replicationFactor: 1,
  },
  http: { host: '127.0.0.1', checkoutPort: 8080, providersPort: 8090 },
  providers: {
    paymentUrl: 'http://127.0.0.1:8091',
    shippingUrl: 'http://127.0.0.1:8092',
    emailUrl: 'http://127.0.0.1:8093',
    webhookUrl: 'http://127.0.0.1:8094',
  },
  stack: { dir: '.orderbus', brokers: 1, kafkaVersion: '3.9.1', registryVersion: '3.0.9', kafkaHeapMb: 768 },
  lag: { sampleSeconds: 3, windowSamples: 10, thresholds: {} },
  workers: {
    emailRatePerSecond: 50,
    retryDelaysMs: [5000, 25000, 125000],
    maxAttempts: 4,
    prefetch: 20,
    partnerWebhookUrl: 'http://127.0.0.1:8094/hooks/v1',
    unsafeAckBeforePublish: false,
  },
  rabbitPrefix: '',
  operator: 'unknown',
});

function configError(key: string, expected: string, got: unknown, source: string): OrderbusError {
  return new OrderbusError(
    'CONFIG_INVALID',
    `config ${key} from ${source}: expected ${expected}, got ${JSON.stringify(got)}`,
    {
      hint: 'orderbus config (prints the effective configuration and where each value came from)',
      exitCode: ExitCode.usage,
      subject: key,
    },
  );
}

const parsers = {
  string: (key: string, v: unknown, src: string): string => {
    if (typeof v !== 'string' || v.length === 0) throw configError(key, 'a non-empty string', v, src);
    return v;
  },
  url:
    (protocols: string[]) =>
    (key: string, v: unknown, src: string): string => {
      if (typeof v !== 'string') throw configError(key, `a URL (${protocols.join('|')})`, v, src);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw configError(key, `a URL (${protocols.join('|')}://host:port)`, v, src);
      }
      if (!protocols.includes(u.protocol.replace(/:$/, '')))
        throw configError(key, `a URL with scheme ${protocols.join(' or ')}`, v, src);
      return v;
    },
  int:
    (min: number, max: number) =>
    (key: string, v: unknown, src: string): number => {
      const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw configError(key, `an integer from ${min} to ${max}`, v, src);
      }
      return n;
    },
  bool: (key: string, v: unknown, src: string): boolean => {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw configError(key, 'true or false', v, src);
  },
  brokers: (key: string, v: unknown, src: string): string[] => {
    const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
    if (!Array.isArray(list) || list.length === 0) throw configError(key, 'host:port[,host:port…]', v, src);
    for (const b of list) {
      if (typeof b !== 'string' || !/^[\w.-]+:\d{1,5}$/.test(b))
        throw configError(key, 'host:port[,host:port…]', v, src);
    }
    return list as string[];
  },
  intList: (key: string, v: unknown, src: string): number[] => {
    const list = typeof v === 'string' ? v.split(',').map((s) => Number(s.trim())) : v;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    ) {
      throw configError(key, 'a comma-separated list of non-negative integers', v, src);
    }
    return list as number[];
  },
  sasl: (key: string, v: unknown, src: string): OrderbusConfig['kafka']['sasl'] => {
    if (v === undefined || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o !== 'object' || !['plain', 'scram-sha-256', 'scram-sha-512'].includes(String(o.mechanism))) {
      throw configError(key, '{ mechanism: plain|scram-sha-256|scram-sha-512, username, password }', v, src);
    }
    return {
      mechanism: o.mechanism as 'plain',
      username: parsers.string(`${key}.username`, o.username, src),
      password: parsers.string(`${key}.password`, o.password, src),
    };
  },
  thresholds: (key: string, v: unknown, src: string): Record<string, LagThresholds> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw configError(key, '{ "<group>": { warnLag, errLag, warnTimeLagMs, errTimeLagMs } }', v, src);
    const out: Record<string, LagThresholds> = {};
    for (const [group, t] of Object.entries(v as Record<string, Record<string, unknown>>)) {
      const entry: LagThresholds = {};
      for (const f of ['warnLag', 'errLag', 'warnTimeLagMs', 'errTimeLagMs'] as const) {
        if (t[f] !== undefined)
          entry[f] = parsers.int(0, Number.MAX_SAFE_INTEGER)(`${key}.${group}.${f}`, t[f], src);
      }
      out[group] = entry;
    }
    return out;
  },
};

type Parser = (key: string, v: unknown, src: string) => unknown;

/** Every settable key: its dotted path, parser, and environment variable. */
const schema: { path: string; parse: Parser; env?: string }[] = [
  { path: 'kafka.brokers', parse: parsers.brokers, env: 'ORDERBUS_KAFKA_BROKERS' },
  { path: 'kafka.clientId', parse: parsers.string, env: 'ORDERBUS_KAFKA_CLIENT_ID' },
  { path: 'kafka.ssl', parse: parsers.bool, env: 'ORDERBUS_KAFKA_SSL' },
  { path: 'kafka.sasl', parse: parsers.sasl },
  {
    path: 'kafka.connectionTimeoutMs',
    parse: parsers.int(100, 600000),
    env: 'ORDERBUS_KAFKA_CONNECTION_TIMEOUT_MS',
  },
  {
    path: 'kafka.requestTimeoutMs',
    parse: parsers.int(100, 600000),
    env: 'ORDERBUS_KAFKA_REQUEST_TIMEOUT_MS',
  },
  {
    path: 'kafka.groupPrefix',
    parse: (k, v, src) => (v === '' ? '' : parsers.string(k, v, src)),
    env: 'ORDERBUS_KAFKA_GROUP_PREFIX',
  },
  {
    path: 'kafka.sessionTimeoutMs',
    parse: parsers.int(6000, 300000),
    env: 'ORDERBUS_KAFKA_SESSION_TIMEOUT_MS',
  },
  { path: 'rabbitmq.url', parse: parsers.url(['amqp', 'amqps']), env: 'ORDERBUS_RABBITMQ_URL' },
  {
    path: 'rabbitmq.managementUrl',
    parse: parsers.url(['http', 'https']),
    env: 'ORDERBUS_RABBITMQ_MANAGEMENT_URL',
  },
  { path: 'rabbitmq.tlsCaFile', parse: parsers.string, env: 'ORDERBUS_AMQP_TLS_CA_FILE' },
  { path: 'rabbitmq.vhost', parse: parsers.string, env: 'ORDERBUS_RABBITMQ_VHOST' },
  { path: 'database.url', parse: parsers.url(['postgres', 'postgresql']), env: 'ORDERBUS_DATABASE_URL' },
  { path: 'database.poolSize', parse: parsers.int(1, 500), env: 'ORDERBUS_DATABASE_POOL_SIZE' },
  {
    path: 'database.processConnections',
    parse: parsers.int(4, 5000),
    env: 'ORDERBUS_DATABASE_PROCESS_CONNECTIONS',
  },
  { path: 'database.schema', parse: parsers.string, env: 'ORDERBUS_DATABASE_SCHEMA' },
  { path: 'registry.url', parse: parsers.url(['http', 'https']), env: 'ORDERBUS_REGISTRY_URL' },
  { path: 'topics.orderEvents', parse: parsers.string, env: 'ORDERBUS_TOPIC_ORDER_EVENTS' },
  { path: 'topics.orderEventsDlq', parse: parsers.string, env: 'ORDERBUS_TOPIC_ORDER_EVENTS_DLQ' },
  { path: 'topics.audit', parse: parsers.string, env: 'ORDERBUS_TOPIC_AUDIT' },
  { path: 'topics.partitions', parse: parsers.int(1, 1000), env: 'ORDERBUS_TOPIC_PARTITIONS' },
  { path: 'topics.replicationFactor', parse: parsers.int(1, 5), env: 'ORDERBUS_TOPIC_REPLICATION_FACTOR' },
  { path: 'http.host', parse: parsers.string, env: 'ORDERBUS_HTTP_HOST' },
  { path: 'http.checkoutPort', parse: parsers.int(0, 65535), env: 'ORDERBUS_CHECKOUT_PORT' },
  { path: 'http.providersPort', parse: parsers.int(0, 65535), env: 'ORDERBUS_PROVIDERS_PORT' },
  { path: 'providers.paymentUrl', parse: parsers.url(['http', 'https']), env: 'ORDERBUS_PAYMENT_URL' },
  { path: 'providers.shippingUrl', parse: parsers.url(['http', 'https']), env: 'ORDERBUS_SHIPPING_URL' },
  { path: 'providers.emailUrl', parse: parsers.url(['http', 'https']), env: 'ORDERBUS_EMAIL_URL' },
  { path: 'providers.webhookUrl', parse: parsers.url(['http', 'https']), env: 'ORDERBUS_WEBHOOK_URL' },
  { path: 'stack.dir', parse: parsers.string, env: 'ORDERBUS_STACK_DIR' },
  { path: 'stack.brokers', parse: parsers.int(1, 3), env: 'ORDERBUS_STACK_BROKERS' },
  { path: 'stack.kafkaVersion', parse: parsers.string, env: 'ORDERBUS_KAFKA_VERSION' },
  { path: 'stack.registryVersion', parse: parsers.string, env: 'ORDERBUS_REGISTRY_VERSION' },
  { path: 'stack.kafkaHeapMb', parse: parsers.int(256, 8192), env: 'ORDERBUS_KAFKA_HEAP_MB' },
  { path: 'lag.sampleSeconds', parse: parsers.int(0, 600), env: 'ORDERBUS_LAG_SAMPLE_SECONDS' },
  { path: 'lag.windowSamples', parse: parsers.int(2, 1000), env: 'ORDERBUS_LAG_WINDOW_SAMPLES' },
  { path: 'lag.thresholds', parse: parsers.thresholds },
  { path: 'workers.emailRatePerSecond', parse: parsers.int(1, 100000), env: 'ORDERBUS_EMAIL_RATE' },
  { path: 'workers.retryDelaysMs', parse: parsers.intList, env: 'ORDERBUS_RETRY_DELAYS_MS' },
  { path: 'workers.maxAttempts', parse: parsers.int(1, 100), env: 'ORDERBUS_MAX_ATTEMPTS' },
  { path: 'workers.prefetch', parse: parsers.int(1, 10000), env: 'ORDERBUS_PREFETCH' },
  {
    path: 'workers.partnerWebhookUrl',
    parse: parsers.url(['http', 'https']),
    env: 'ORDERBUS_PARTNER_WEBHOOK_URL',
  },
  { path: 'workers.unsafeAckBeforePublish', parse: parsers.bool, env: 'ORDERBUS_UNSAFE_ACK_BEFORE_PUBLISH' },
  {
    path: 'rabbitPrefix',
    parse: (k, v, src) => (v === '' ? '' : parsers.string(k, v, src)),
    env: 'ORDERBUS_RABBIT_PREFIX',
  },
  { path: 'operator', parse: parsers.string, env: 'ORDERBUS_OPERATOR' },
];

function getPath(o: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (acc, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[k] : undefined),
      o,
    );
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys[keys.length - 1] as string] = value;
}

export interface LoadConfigOptions {
  /** Path of the config file; default `orderbus.config.json` in the working directory. */
  file?: string;
  env?: Env;
  /** Flag overrides by dotted path, e.g. `{ 'kafka.brokers': '127.0.0.1:9092' }`. */
  flags?: Record<string, unknown>;
  cwd?: string;
}

export interface LoadedConfig {
  config: OrderbusConfig;
  /** Where each key's value came from: default, file, env or flag. */
  sources: Record<string, string>;
}

export function loadConfigWithSources(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const sources: Record<string, string> = Object.fromEntries(schema.map((f) => [f.path, 'default']));
  const filePath = resolve(cwd, options.file ?? env.ORDERBUS_CONFIG ?? 'orderbus.config.json');
  let fileData: unknown;
  if (existsSync(filePath)) {
    try {
      fileData = JSON.parse(readFileSync(filePath, 'utf8'));
    } catch (e) {
      throw new OrderbusError('CONFIG_INVALID', `config file ${filePath} is not valid JSON`, {
        hint: `fix or remove ${filePath}`,
        exitCode: ExitCode.usage,
        cause: e,
      });
    }
  } else if (options.file !== undefined || env.ORDERBUS_CONFIG !== undefined) {
    throw new OrderbusError('CONFIG_NOT_FOUND', `config file ${filePath} does not exist`, {
      hint: 'create it, or drop --config / ORDERBUS_CONFIG',
      exitCode: ExitCode.usage,
    });
  }
  for (const field of schema) {
    const fromFile = getPath(fileData, field.path);
    if (fromFile !== undefined) {
      setPath(config, field.path, field.parse(field.path, fromFile, filePath));
      sources[field.path] = filePath;
    }
    const fromEnv = field.env ? env[field.env] : undefined;
    if (field.env && fromEnv !== undefined && fromEnv !== '') {
      setPath(config, field.path, field.parse(field.path, fromEnv, `$${field.env}`));
      sources[field.path] = `$${field.env}`;
    }
    const fromFlag = options.flags?.[field.path];
    if (fromFlag !== undefined) {
      setPath(config, field.path, field.parse(field.path, fromFlag, 'flag'));
      sources[field.path] = 'flag';
    }
  }
  // SASL credentials from the environment (the password never belongs in a file that is committed).
  if (env.ORDERBUS_KAFKA_SASL_MECHANISM) {
    setPath(
      config,
      'kafka.sasl',
      parsers.sasl(
        'kafka.sasl',
        {
          mechanism: env.ORDERBUS_KAFKA_SASL_MECHANISM,
          username: env.ORDERBUS_KAFKA_SASL_USERNAME,
          password: env.ORDERBUS_KAFKA_SASL_PASSWORD,
        },
        '$ORDERBUS_KAFKA_SASL_*',
      ),
    );
    sources['kafka.sasl'] = '$ORDERBUS_KAFKA_SASL_*';
  }
  const typed = config as unknown as OrderbusConfig;
  // With no brokers configured, follow the local stack: a 3-broker stack bootstraps from all three,
  // so clients survive the loss of the first one. `stack up` leaves these values in a config file.
  const local = readJsonIfPresent(localStackConfigFile(typed));
  for (const path of ['kafka.brokers', 'topics.replicationFactor']) {
    const field = schema.find((f) => f.path === path);
    const v = getPath(local, path);
    if (field && v !== undefined && sources[path] === 'default') {
      setPath(config, path, field.parse(path, v, 'stack'));
      sources[path] = 'stack';
    }
  }
  if (sources.operator === 'default') typed.operator = env.USER ?? env.LOGNAME ?? 'unknown';
  return { config: typed, sources };
}

function readJsonIfPresent(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export function loadConfig(options: LoadConfigOptions = {}): OrderbusConfig {
  return loadConfigWithSources(options).config;
}

/** The keys a user can set, for `orderbus config` and the README. */
export function configKeys(): { path: string; env?: string }[] {
  return schema.map(({ path, env }) => (env ? { path, env } : { path }));
}

/** The environment passed to child processes (tests and the stack launcher use it). */
export function childEnv(extra: Env = {}): Env {
  return { ...process.env, ...extra };
}

/** True where the process runs under CI (used only to choose defaults, never to skip). */
export function isCI(): boolean {
  return process.env.CI === 'true';
}

/** The editor for `dlq redrive --edit` and the console's `e`, chosen as git does: $VISUAL, $EDITOR, vi. */
export function editorCommand(): string {
  return process.env.VISUAL || process.env.EDITOR || 'vi';
}

/** True when colour must be off (https://no-color.org). */
export function noColor(): boolean {
  return process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
}

import { readFileSync } from 'node:fs';
import { localStackConfigFile } from './paths.js';
import { isLocalStack } from './local-stack.js';
import { isObject } from './config-parsers.js';
import {
  COMPONENTS,
  checkEnv,
  schema,
  type Component,
  type KafkaSasl,
  type KafkaTls,
  type SchemaField,
} from './config-schema.js';
import { readSecret, secretFromFile, type Env } from './config-secrets.js';
import { contextSource, readConfigFile, selectContext } from './config-file.js';
import { registerSecret } from './redact.js';

export type { Component, KafkaSasl, KafkaTls };
export { COMPONENTS };

/**
 * One validated configuration: defaults (the local stack's addresses), then an optional
 * `orderbus.config.json`, then the selected context of that file, then `ORDERBUS_*` environment
 * variables, then flags. Unknown keys are errors. This is the only module that reads `process.env`.
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
    /** The cluster id these brokers must answer with; changing commands refuse another cluster. */
    clusterId?: string;
    /** `true`/`false`, or TLS with a CA, a client certificate and key (mTLS), servername, checks. */
    ssl: boolean | KafkaTls;
    sasl?: KafkaSasl;
    connectionTimeoutMs: number;
    requestTimeoutMs: number;
    /** Prefix of every consumer group the pipeline uses (tests use their namespace). */
    groupPrefix: string;
    /** Consumer group session timeout: how long a killed consumer's partitions wait before reassignment. */
    sessionTimeoutMs: number;
  };
  /** `password` (or passwordFile/passwordEnv) replaces the password in both URLs. */
  rabbitmq: {
    url: string;
    managementUrl: string;
    password?: string;
    tlsCaFile?: string;
    vhost: string;
    /** More nodes of the same cluster, tried in turn when `url` does not answer. */
    failoverUrls: string[];
    /** More management APIs of the same cluster, asked when `managementUrl` refuses the connection. */
    managementFailoverUrls: string[];
    /** `quorum` on a cluster: work queues, retry tiers and DLQs replicated on every node. */
    queueType: 'classic' | 'quorum';
  };
  /** `password` (or passwordFile/passwordEnv) replaces the password in the URL. */
  database: {
    url: string;
    password?: string;
    poolSize: number;
    processConnections: number;
    schema: string;
    /** The server cancels a statement after this long (0: never); the client gives up 2 s later. */
    statementTimeoutMs: number;
    /** How long opening a connection may take. */
    connectTimeoutMs: number;
    /** The server ends a session idle inside a transaction this long (0: never). */
    idleInTransactionTimeoutMs: number;
    /** TCP keepalive probes start after this much silence (0: off). */
    keepAliveMs: number;
    /** TEST-ONLY: no `error` listener on pool clients (drills prove they catch the crash). */
    unsafeNoErrorListeners: boolean;
  };
  /** Basic auth from username/password or the URL's user-info (moved out of the URL); a CA for https. */
  registry: {
    url: string;
    username?: string;
    password?: string;
    caFile?: string;
    /** TEST-ONLY: a registry that is away or answers 5xx makes records poison (drills prove they catch it). */
    unsafeFailuresArePoison: boolean;
  };
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
  /** Names that make a topic or queue a DLQ (`*` any characters); RabbitMQ dead-letter targets are found too. */
  dlq: { kafkaPatterns: string[]; rabbitPatterns: string[] };
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
  /**
   * Handled inbox rows, sent outbox rows, checkout and provider requests older than this are
   * pruned: `minutes`, when set, overrides `days` (short soaks and drills).
   */
  retention: { days: number; minutes?: number };
  /** Prefix of every RabbitMQ exchange and queue name (tests use their namespace). */
  rabbitPrefix: string;
  /** Identifies the operator in audit records. */
  operator: string;
  /** The context (profile) of the config file in use, if any. */
  context?: string;
  /** Refuse every changing command (`--execute`): set on contexts that point at production. */
  readOnly: boolean;
  /**
   * The components this target has (`status`, the console and `trace` look at no others). Unless
   * set, all four for the local stack, and for brokers given explicitly only those whose address
   * is given too (see impliedComponents).
   */
  components: Component[];
}

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
    failoverUrls: [],
    managementFailoverUrls: [],
    queueType: 'classic',
  },
  database: {
    url: 'postgres://postgres@127.0.0.1:5432/orderbus',
    poolSize: 10,
    processConnections: 60,
    schema: 'public',
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
    idleInTransactionTimeoutMs: 60_000,
    keepAliveMs: 10_000,
    unsafeNoErrorListeners: false,
  },
  registry: { url: 'http://127.0.0.1:8081/apis/ccompat/v7', unsafeFailuresArePoison: false },
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
  dlq: { kafkaPatterns: ['*.dlq', '*-dlt', '*.DLT'], rabbitPatterns: ['*.dlq'] },
  workers: {
    emailRatePerSecond: 50,
    retryDelaysMs: [5000, 25000, 125000],
    maxAttempts: 4,
    prefetch: 20,
    partnerWebhookUrl: 'http://127.0.0.1:8094/hooks/v1',
    unsafeAckBeforePublish: false,
  },
  retention: { days: 7 },
  rabbitPrefix: '',
  operator: 'unknown',
  readOnly: false,
  components: [...COMPONENTS],
});

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
  /** The context of the config file to use (`--context`); default $ORDERBUS_CONTEXT, then currentContext. */
  context?: string;
  env?: Env;
  /** Flag overrides by dotted path, e.g. `{ 'kafka.brokers': '127.0.0.1:9092' }`. */
  flags?: Record<string, unknown>;
  cwd?: string;
}

export interface LoadedConfig {
  config: OrderbusConfig;
  /** Where each key's value came from: default, the file, a context of it, env, flag or stack. */
  sources: Record<string, string>;
}

/** A layer's value for a field: secrets may be written as key, keyFile or keyEnv. */
function layerValue(layer: Record<string, unknown>, field: SchemaField, src: string, env: Env): unknown {
  if (!field.secret) return getPath(layer, field.path);
  const dot = field.path.lastIndexOf('.');
  const parent = getPath(layer, field.path.slice(0, dot));
  return isObject(parent)
    ? readSecret(field.path.slice(0, dot), parent, field.path.slice(dot + 1), src, env)
    : undefined;
}

/** An environment variable's value for a field: secrets also as `<ENV>_FILE`. */
function envValue(field: SchemaField, env: Env): [unknown, string] | undefined {
  if (!field.env) return undefined;
  const direct = env[field.env];
  if (direct !== undefined && direct !== '') {
    if (field.secret) registerSecret(direct);
    return [direct, `$${field.env}`];
  }
  const file = field.secret ? env[`${field.env}_FILE`] : undefined;
  if (file) return [secretFromFile(field.path, file, `$${field.env}_FILE`), `$${field.env}_FILE`];
  return undefined;
}

export function loadConfigWithSources(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  checkEnv(env);
  const config = defaultConfig() as unknown as Record<string, unknown>;
  const sources: Record<string, string> = Object.fromEntries(schema.map((f) => [f.path, 'default']));
  const file = readConfigFile(options, env);
  const context = selectContext(file, options.context, env);
  const layers: [Record<string, unknown>, string][] = [];
  if (file.data) layers.push([file.data, file.path]);
  if (context) layers.push([context.settings, contextSource(file.path, context.name)]);
  const set = (field: SchemaField, raw: unknown, src: string) => {
    setPath(config, field.path, field.parse(field.path, raw, src, env));
    sources[field.path] = src;
  };
  for (const field of schema) {
    for (const [layer, src] of layers) {
      const v = layerValue(layer, field, src, env);
      if (v !== undefined) set(field, v, src);
    }
    const fromEnv = envValue(field, env);
    if (fromEnv) set(field, ...fromEnv);
    const fromFlag = options.flags?.[field.path];
    if (fromFlag !== undefined) set(field, fromFlag, 'flag');
  }
  // SASL credentials from the environment (the password never belongs in a file that is committed).
  if (env.ORDERBUS_KAFKA_SASL_MECHANISM) {
    const src = '$ORDERBUS_KAFKA_SASL_*';
    const sasl = {
      mechanism: env.ORDERBUS_KAFKA_SASL_MECHANISM,
      username: env.ORDERBUS_KAFKA_SASL_USERNAME,
      ...(env.ORDERBUS_KAFKA_SASL_PASSWORD_FILE
        ? { passwordFile: env.ORDERBUS_KAFKA_SASL_PASSWORD_FILE }
        : { password: env.ORDERBUS_KAFKA_SASL_PASSWORD }),
    };
    set({ path: 'kafka.sasl', parse: schema.find((f) => f.path === 'kafka.sasl')!.parse }, sasl, src);
  }
  const typed = config as unknown as OrderbusConfig;
  applyCredentials(typed);
  // With no brokers configured, follow the local stack: a 3-broker stack bootstraps from all three,
  // so clients survive the loss of the first one; a 3-node RabbitMQ stack gives its nodes and
  // quorum queues the same way. `stack up` leaves these values in a config file.
  const local = readJsonIfPresent(localStackConfigFile(typed));
  for (const path of [
    'kafka.brokers',
    'topics.replicationFactor',
    'rabbitmq.url',
    'rabbitmq.managementUrl',
    'rabbitmq.failoverUrls',
    'rabbitmq.managementFailoverUrls',
    'rabbitmq.queueType',
  ]) {
    const field = schema.find((f) => f.path === path);
    const v = getPath(local, path);
    if (field && v !== undefined && sources[path] === 'default') set(field, v, 'stack');
  }
  if (sources.operator === 'default') typed.operator = env.USER ?? env.LOGNAME ?? 'unknown';
  if (sources.components === 'default') {
    typed.components = impliedComponents(typed, sources);
    if (typed.components.length < COMPONENTS.length)
      sources.components = `implied by ${sources['kafka.brokers']}`;
  }
  if (context) {
    typed.context = context.name;
    sources.context = context.via;
  }
  return { config: typed, sources };
}

/**
 * The components of a target whose `components` is not set. Brokers left at the local stack's
 * (default or `stack up`'s) mean the local stack: all four. Brokers given explicitly (a file, a
 * context, the environment, `--bootstrap-server`) mean some other cluster, whose RabbitMQ,
 * PostgreSQL and registry are only those whose address is given too: the defaults point at the
 * local stack, which is no part of that target. (Brokers given at the local stack's addresses are
 * the local stack.)
 */
function impliedComponents(config: OrderbusConfig, sources: Record<string, string>): Component[] {
  const given = (...keys: string[]) =>
    keys.some((k) => !['default', 'stack'].includes(sources[k] ?? 'default'));
  if (!given('kafka.brokers') || isLocalStack('kafka', config.kafka.brokers)) return [...COMPONENTS];
  const addresses: Record<Component, string[]> = {
    kafka: ['kafka.brokers'],
    rabbitmq: ['rabbitmq.url', 'rabbitmq.managementUrl'],
    postgres: ['database.url'],
    registry: ['registry.url'],
  };
  return COMPONENTS.filter((c) => given(...addresses[c]));
}

/**
 * Puts passwords given on their own into the URLs the drivers read (RabbitMQ, PostgreSQL), and
 * moves the registry's user-info out of its URL, so that URL can be shown as it is.
 */
function applyCredentials(c: OrderbusConfig): void {
  const withPassword = (url: string, password: string) => {
    const u = new URL(url);
    u.password = password;
    return u.toString();
  };
  if (c.rabbitmq.password !== undefined) {
    c.rabbitmq.url = withPassword(c.rabbitmq.url, c.rabbitmq.password);
    c.rabbitmq.managementUrl = withPassword(c.rabbitmq.managementUrl, c.rabbitmq.password);
    const pw = c.rabbitmq.password;
    c.rabbitmq.failoverUrls = c.rabbitmq.failoverUrls.map((u) => withPassword(u, pw));
    c.rabbitmq.managementFailoverUrls = c.rabbitmq.managementFailoverUrls.map((u) => withPassword(u, pw));
  }
  if (c.database.password !== undefined) c.database.url = withPassword(c.database.url, c.database.password);
  const reg = new URL(c.registry.url);
  if (reg.username || reg.password) {
    c.registry.username ??= decodeURIComponent(reg.username);
    if (reg.password) c.registry.password ??= decodeURIComponent(reg.password);
    registerSecret(c.registry.password);
    reg.username = '';
    reg.password = '';
    c.registry.url = reg.toString().replace(/\/$/, '');
  }
}

function readJsonIfPresent(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The global CLI options that choose the configuration (bin/main.ts declares them). */
export interface GlobalConfigFlags {
  config?: string;
  context?: string;
  bootstrapServer?: string;
}

/** LoadConfigOptions from the global flags: `--config`, `--context`, `--bootstrap-server`. */
export function configOptionsFromFlags(g: GlobalConfigFlags): LoadConfigOptions {
  return {
    ...(g.config ? { file: g.config } : {}),
    ...(g.context ? { context: g.context } : {}),
    flags: g.bootstrapServer ? { 'kafka.brokers': g.bootstrapServer } : {},
  };
}

export function loadConfig(options: LoadConfigOptions = {}): OrderbusConfig {
  return loadConfigWithSources(options).config;
}

/** The keys a user can set, for `orderbus config` and the README. */
export function configKeys(): { path: string; env?: string }[] {
  return schema.map(({ path, env }) => (env ? { path, env } : { path }));
}

/** The config file's path and its contexts, for `orderbus context`. */
export { readConfigFile, contextsOf, writeCurrentContext, type ConfigFile } from './config-file.js';

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

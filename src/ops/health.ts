import type { Component, OrderbusConfig } from '../config.js';
import { errorMessage } from '../errors.js';
import { describeBrokers } from '../adapters/kafka-versions.js';
import { createPool, withDriverCode } from '../adapters/postgres.js';
import { managementApi } from '../adapters/rabbitmq.js';
import { registryHealth as askRegistry } from '../adapters/registry.js';
import { portOpen } from '../net.js';

/**
 * The health of each component as the component itself answers it: Kafka's DescribeCluster,
 * RabbitMQ's management API, a PostgreSQL query, the registry's readiness. Nothing here knows
 * how (or whether) the component was started; the dev stack adds its own process view on top.
 */
export interface ComponentStatus {
  name: 'kafka' | 'rabbitmq' | 'postgres' | 'registry';
  status: 'up' | 'down' | 'degraded';
  /** Why it is not up, in a word (PostgreSQL's check tells it; `detail` has the driver's message). */
  reason?: DownReason;
  address: string;
  version?: string;
  pid?: number | undefined;
  detail?: string;
  controller?: number | null;
  brokers?: {
    nodeId: number;
    address: string;
    pid?: number | undefined;
    status: 'up' | 'down';
    /** The broker's Kafka release as its ApiVersions answer tells it (kafka-versions.ts). */
    version?: string;
  }[];
}

/**
 * refused: nothing listens; timed out: no answer within HEALTH_TIMEOUT_MS (a stalled server or a
 * black-holed network); auth: the server refused the credentials; reset: the connection was
 * dropped before an answer; unavailable: the server answered that it takes no session now
 * (starting up, shutting down, too many connections); tls: the TLS handshake failed (a certificate
 * the configured CA does not sign, a name mismatch); error: anything else.
 */
export type DownReason = 'refused' | 'timed out' | 'auth' | 'tls' | 'reset' | 'unavailable' | 'error';

/** How long each health check may wait on a component: status and the console answer within it. */
export const HEALTH_TIMEOUT_MS = 2000;

const CHECKS: Record<Component, (config: OrderbusConfig) => Promise<ComponentStatus>> = {
  kafka: kafkaHealth,
  rabbitmq: rabbitHealth,
  postgres: postgresHealth,
  registry: registryHealth,
};

/** The target's components (config.components; the dev stack asks for all four). */
export async function componentHealth(
  config: OrderbusConfig,
  components: readonly Component[] = config.components,
): Promise<ComponentStatus[]> {
  return Promise.all(components.map((c) => CHECKS[c](config)));
}

export async function kafkaHealth(config: OrderbusConfig): Promise<ComponentStatus> {
  const base: ComponentStatus = {
    name: 'kafka',
    status: 'down',
    address: config.kafka.brokers.join(','),
  };
  try {
    const h = await describeBrokers(config, config.kafka.brokers);
    // The cluster's own answer, not stack.kafkaVersion (which only says what `stack up` starts).
    const releases = h.releases;
    const versions = [...new Set(releases.values())];
    return {
      ...base,
      status: 'up',
      ...(versions.length > 0 ? { version: versions.join(' / ') } : {}),
      controller: h.controller,
      brokers: h.brokers.map((b) => ({
        nodeId: b.nodeId,
        address: `${b.host}:${b.port}`,
        status: 'up' as const,
        ...(releases.has(b.nodeId) ? { version: releases.get(b.nodeId) } : {}),
      })),
      detail: `cluster ${h.clusterId}`,
    };
  } catch (e) {
    return { ...base, detail: errorMessage(e) };
  }
}

async function rabbitHealth(config: OrderbusConfig): Promise<ComponentStatus> {
  const u = new URL(config.rabbitmq.url);
  const base: ComponentStatus = { name: 'rabbitmq', status: 'down', address: u.host };
  try {
    const o = await managementApi<{ rabbitmq_version: string; node: string }>(config, '/overview');
    return { ...base, status: 'up', version: o.rabbitmq_version, detail: o.node };
  } catch (e) {
    const amqpUp = await portOpen(Number(u.port || 5672), u.hostname, 500);
    return { ...base, status: amqpUp ? 'degraded' : 'down', detail: errorMessage(e) };
  }
}

async function postgresHealth(config: OrderbusConfig): Promise<ComponentStatus> {
  const u = new URL(config.database.url);
  const base: ComponentStatus = { name: 'postgres', status: 'down', address: `${u.host}${u.pathname}` };
  // Bounded at every step: a black-holed server accepts the connection and never answers.
  const pool = createPool(config, {
    max: 1,
    connectionTimeoutMillis: HEALTH_TIMEOUT_MS,
    queryTimeoutMillis: HEALTH_TIMEOUT_MS,
  });
  try {
    const v = await pool.query<{ server_version: string; pid: number }>(
      'SELECT current_setting($1) AS server_version, pg_backend_pid() AS pid',
      ['server_version'],
    );
    const m = await pool
      .query<{ version: number }>('SELECT max(version) AS version FROM schema_migrations')
      .catch(() => ({ rows: [] }));
    return {
      ...base,
      status: 'up',
      version: v.rows[0]?.server_version ?? '',
      detail: `schema version ${m.rows[0]?.version ?? 'none'}`,
    };
  } catch (e) {
    return { ...base, reason: postgresDownReason(e), detail: errorMessage(e) };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** SQLSTATEs of a server that answered but takes no session now (57P03 starting up, 53300 full). */
const UNAVAILABLE_STATES = new Set(['57P03', '53300', '53000']);

/** Why a PostgreSQL connection or health query failed, by the error's code (see DownReason). */
export function postgresDownReason(e: unknown): DownReason {
  // Node reports a host with several addresses as an AggregateError; each inner error has a code.
  const errors = e instanceof AggregateError ? [e, ...(e.errors as unknown[])] : [e];
  const codes = errors.map((x) => (withDriverCode(x) as { code?: unknown } | null)?.code);
  const has = (...wanted: string[]) => codes.some((c) => typeof c === 'string' && wanted.includes(c));
  if (has('ECONNREFUSED')) return 'refused';
  if (has('PG_CONNECT_TIMEOUT', 'PG_QUERY_TIMEOUT', 'ETIMEDOUT')) return 'timed out';
  if (codes.some((c) => typeof c === 'string' && c.startsWith('28'))) return 'auth';
  if (codes.some((c) => typeof c === 'string' && UNAVAILABLE_STATES.has(c))) return 'unavailable';
  if (has('ECONNRESET', 'EPIPE', 'PG_CONNECTION_LOST', '57P01', '57P02')) return 'reset';
  return 'error';
}

async function registryHealth(config: OrderbusConfig): Promise<ComponentStatus> {
  const base: ComponentStatus = { name: 'registry', status: 'down', address: config.registry.url };
  const h = await askRegistry(config, HEALTH_TIMEOUT_MS);
  if (!h.up) return { ...base, reason: h.reason, detail: h.detail };
  return { ...base, status: 'up', version: h.version ?? config.stack.registryVersion };
}

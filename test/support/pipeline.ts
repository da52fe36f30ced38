import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, type OrderbusConfig } from '../../src/config.js';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import {
  startProviders,
  withProviderUrls,
  type Provider,
  type ProviderName,
} from '../../src/providers/index.js';
import { runServices } from '../../src/runtime/runner.js';
import type { Service } from '../../src/runtime/service.js';
import {
  topologyNames,
  topologyOptions,
  WORK_QUEUES,
  dlqName,
  retryQueueName,
} from '../../src/tasks/topology.js';
import type { CheckoutApi } from '../../src/pipeline/checkout-api.js';
import { sampleOrder, type OrderKind } from '../../src/devstack/load/load.js';
import { projectRoot } from '../../src/paths.js';
import { testDatabase } from './database.js';
import { testNamespace } from './namespace.js';
import { waitUntil } from './wait.js';

/**
 * A whole pipeline in its own namespace: its own topics (few partitions), consumer groups,
 * PostgreSQL schema, RabbitMQ exchanges and queues, and providers on random ports — against the
 * real Kafka, RabbitMQ, PostgreSQL and registry. Services run in-process, or as real
 * `orderbus run --service X` child processes where a test must kill -9 them.
 */
export interface TestPipeline {
  ns: string;
  config: OrderbusConfig;
  env: Record<string, string>;
  providers: Record<ProviderName, Provider>;
  checkoutUrl: string;
  db: Awaited<ReturnType<typeof testDatabase>>;
  placeOrder(kind?: OrderKind, n?: number): Promise<string>;
  statuses(ids: string[]): Promise<Record<string, string>>;
  waitForTerminal(ids: string[], timeoutMs?: number): Promise<Record<string, string>>;
  startServices(names: string[]): Promise<Service[]>;
  stopServices(names: string[]): Promise<void>;
  spawnService(name: string, extraEnv?: Record<string, string>): ChildProcess;
  stop(): Promise<void>;
}

const TERMINAL = ['notified', 'failed', 'cancelled'];

export async function startTestPipeline(
  options: {
    services?: string[];
    partitions?: number;
    retryDelaysMs?: number[];
    label?: string;
    extra?: (c: OrderbusConfig) => OrderbusConfig;
  } = {},
): Promise<TestPipeline> {
  const ns = testNamespace(options.label ?? 'pipe');
  const base = loadConfig();
  const db = await testDatabase(ns, base);
  const providers = await startProviders(db.config, db.pool, { randomPorts: true, scope: ns });
  let config: OrderbusConfig = withProviderUrls(db.config, providers);
  config = {
    ...config,
    kafka: { ...config.kafka, groupPrefix: `${ns}.`, clientId: ns },
    topics: {
      ...config.topics,
      orderEvents: `${ns}.order.events`,
      orderEventsDlq: `${ns}.order.events.dlq`,
      audit: `${ns}.audit`,
      partitions: options.partitions ?? 4,
    },
    http: { ...config.http, checkoutPort: 0 },
    rabbitPrefix: `${ns}.`,
    workers: {
      ...config.workers,
      retryDelaysMs: options.retryDelaysMs ?? [200, 400],
      maxAttempts: 3,
      partnerWebhookUrl: `${providers.webhook.url}/hooks/v1`,
      emailRatePerSecond: 500,
    },
  };
  if (options.extra) config = options.extra(config);
  const admin = await connectAdmin(config);
  await createTopicsAndWait(admin, [
    {
      topic: config.topics.orderEvents,
      numPartitions: config.topics.partitions,
      replicationFactor: config.topics.replicationFactor,
    },
    {
      topic: config.topics.orderEventsDlq,
      numPartitions: 1,
      replicationFactor: config.topics.replicationFactor,
    },
  ]);
  await admin.disconnect();
  const running = new Map<string, { stop: () => Promise<void>; services: Service[] }>();
  const children = new Set<ChildProcess>();
  const env: Record<string, string> = {
    ORDERBUS_TOPIC_ORDER_EVENTS: config.topics.orderEvents,
    ORDERBUS_TOPIC_ORDER_EVENTS_DLQ: config.topics.orderEventsDlq,
    ORDERBUS_TOPIC_AUDIT: config.topics.audit,
    ORDERBUS_DATABASE_SCHEMA: config.database.schema,
    ORDERBUS_KAFKA_GROUP_PREFIX: config.kafka.groupPrefix,
    ORDERBUS_KAFKA_CLIENT_ID: ns,
    ORDERBUS_RABBIT_PREFIX: config.rabbitPrefix,
    ORDERBUS_RETRY_DELAYS_MS: config.workers.retryDelaysMs.join(','),
    ORDERBUS_MAX_ATTEMPTS: String(config.workers.maxAttempts),
    ORDERBUS_PARTNER_WEBHOOK_URL: config.workers.partnerWebhookUrl,
    ORDERBUS_EMAIL_RATE: String(config.workers.emailRatePerSecond),
    ORDERBUS_PAYMENT_URL: config.providers.paymentUrl,
    ORDERBUS_SHIPPING_URL: config.providers.shippingUrl,
    ORDERBUS_EMAIL_URL: config.providers.emailUrl,
    ORDERBUS_WEBHOOK_URL: config.providers.webhookUrl,
    ORDERBUS_CHECKOUT_PORT: '0',
  };
  const p: TestPipeline = {
    ns,
    config,
    env,
    providers,
    checkoutUrl: '',
    db,
    async placeOrder(kind = 'normal', n = Math.floor(Math.random() * 1e6)) {
      const res = await fetch(`${p.checkoutUrl}/api/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sampleOrder(kind, n)),
      });
      const body = (await res.json()) as { orderId?: string };
      if (res.status !== 201 || !body.orderId)
        throw new Error(`checkout answered ${res.status}: ${JSON.stringify(body)}`);
      return body.orderId;
    },
    async statuses(ids) {
      const { rows } = await db.pool.query<{ id: string; status: string }>(
        'SELECT id, status FROM orders WHERE id = ANY($1::uuid[])',
        [ids],
      );
      return Object.fromEntries(rows.map((r) => [r.id, r.status]));
    },
    async waitForTerminal(ids, timeoutMs = 60_000) {
      return waitUntil(
        `${ids.length} orders to reach a terminal state`,
        async () => {
          const s = await p.statuses(ids);
          return ids.every((id) => TERMINAL.includes(s[id] ?? '')) ? s : undefined;
        },
        { timeoutMs, intervalMs: 250 },
      );
    },
    async startServices(names) {
      const r = await runServices(config, names);
      for (const s of r.services) running.set(s.name, { stop: () => s.stop(), services: [s] });
      const checkout = r.services.find((s) => s.name === 'checkout-api') as CheckoutApi | undefined;
      if (checkout) p.checkoutUrl = checkout.url;
      return r.services;
    },
    async stopServices(names) {
      for (const n of names) {
        await running.get(n)?.stop();
        running.delete(n);
      }
    },
    spawnService(name, extraEnv = {}) {
      const child = spawn(
        process.execPath,
        [join(projectRoot(), 'bin', 'orderbus'), 'run', '--service', name],
        {
          env: { ...process.env, ...env, ...extraEnv },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      child.stderr?.resume();
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async stop() {
      for (const c of children) c.kill('SIGKILL');
      for (const [, r] of [...running].reverse()) await r.stop().catch(() => undefined);
      await Promise.all(Object.values(providers).map((x) => x.stop()));
      const a = await connectAdmin(config);
      await a
        .deleteTopics({ topics: [config.topics.orderEvents, config.topics.orderEventsDlq] })
        .catch(() => undefined);
      const groups = (await a.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g.startsWith(`${ns}.`));
      await a.deleteGroups(groups).catch(() => undefined);
      await a.disconnect();
      const conn = await connectRabbit(config, 'test-cleanup');
      const ch = await conn.createChannel();
      const t = topologyNames(topologyOptions(config));
      for (const q of WORK_QUEUES) {
        await ch.deleteQueue(t.queues[q]);
        await ch.deleteQueue(dlqName(t.queues[q]));
        for (const d of t.retryDelaysMs) await ch.deleteQueue(retryQueueName(t.queues[q], d));
      }
      for (const x of [t.taskExchange, t.retryExchange, t.dlxExchange]) await ch.deleteExchange(x);
      await conn.close();
      await fetch(`${config.registry.url}/subjects`).then(async (r) => {
        const subjects = (await r.json()) as string[];
        for (const s of subjects.filter((x) => x.startsWith(`${ns}.`)))
          await fetch(`${config.registry.url}/subjects/${encodeURIComponent(s)}`, { method: 'DELETE' });
      });
      await db.drop();
    },
  };
  if (options.services && options.services.length > 0) await p.startServices(options.services);
  return p;
}

export const CORE = ['checkout-api', 'outbox-relay', 'payment', 'inventory', 'shipping', 'saga'];
export const TASKS = ['dispatcher', 'email-worker', 'webhook-worker', 'analytics-worker'];

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { childEnv } from '../../config.js';
import { configEnv } from './config-env.js';
import { OrderbusError, errorMessage } from '../../errors.js';
import { connectAdmin, createTopicsAndWait } from '../../adapters/kafka.js';
import { createPool, type Pool } from '../../adapters/postgres.js';
import { connectRabbit } from '../../adapters/rabbitmq.js';
import { migrate, quoteIdent } from '../../db/migrate.js';
import { startProviders, withProviderUrls, type Provider, type ProviderName } from '../../providers/index.js';
import { projectRoot } from '../../paths.js';
import {
  dlqName,
  retryQueueName,
  topologyNames,
  topologyOptions,
  WORK_QUEUES,
} from '../../tasks/topology.js';

/**
 * The pipeline a drill runs against: every service as its own `orderbus run --service …` process
 * (so one can be killed -9 and restarted like a deployed one), in a namespace of its own on the
 * shared stack — its own topics, consumer groups, PostgreSQL schema, RabbitMQ queues and provider
 * ledgers — so a drill counts exactly its own orders and never disturbs another pipeline.
 */
export const PROCESSES: Record<string, string[]> = {
  'checkout-api': ['checkout-api'],
  'outbox-relay': ['outbox-relay'],
  payment: ['payment'],
  dispatcher: ['dispatcher'],
  'email-worker': ['email-worker'],
  // One fan-out group (the batched, slowest one) stands for all of them: each service holds its
  // own connection pool, and a drill must fit in PostgreSQL's default 100 connections next to
  // whatever else runs on the stack.
  rest: ['inventory', 'shipping', 'saga', 'warehouse', 'webhook-worker', 'analytics-worker'],
};

/** Consumer groups the drill pipeline runs (without the namespace prefix). */
export const DRILL_GROUPS = ['payment', 'inventory', 'shipping', 'saga', 'warehouse', 'dispatcher'];

/** Retry tiers short enough that a drill settles in seconds (the production tiers are minutes). */
export const DRILL_RETRY_DELAYS_MS = [500, 1500, 3000];

interface Running {
  child: ChildProcess;
  ready: Promise<void>;
  log: string[];
  exited: boolean;
  /** Killed by the drill (a crash it injected), as opposed to one it did not expect. */
  killed: boolean;
}

export interface DrillPipelineOptions {
  partitions?: number;
  log?: (line: string) => void;
}

/**
 * A private database for the services (private-postgres.ts' DrillDatabase, for the database
 * drills): how the services and the drill's checks reach it. The providers stay on the shared one.
 */
export interface ServiceDatabase {
  serviceConfig(c: OrderbusConfig): OrderbusConfig;
  directConfig(c: OrderbusConfig): OrderbusConfig;
}

/** The drill's own pools keep their error listeners whatever the services are given. */
function safe(c: OrderbusConfig): OrderbusConfig {
  return { ...c, database: { ...c.database, unsafeNoErrorListeners: false } };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The error a dying Node process printed (its message and first stack frames), from its stderr tail. */
function lastError(log: string[]): string {
  const tail = log.slice(-40).filter((l) => l.trim() !== '' && !l.startsWith('{"t"'));
  const i = tail.findIndex((l) => /Error|error|throw/.test(l));
  return (i >= 0 ? tail.slice(i, i + 6) : tail.slice(-6)).map((l) => l.trim()).join(' | ');
}

export class DrillPipeline {
  readonly ns: string;
  config!: OrderbusConfig;
  /** The services' database, read directly (verification, monitoring). */
  pool!: Pool;
  private providerPool: Pool | undefined;
  providers!: Record<ProviderName, Provider>;
  brokerCount = 1;
  private admin: Pool | undefined;
  private readonly procs = new Map<string, Running>();
  private readonly log: (line: string) => void;
  private created = { schema: false, topics: false, rabbit: false };
  private stopping = false;
  /** Service processes that died without the drill killing them (a finding in itself). */
  readonly unexpected: string[] = [];
  /** How often each structured log event (`relay.error`, `consumer.retry`…) was logged, over all processes. */
  readonly events = new Map<string, number>();

  constructor(
    readonly base: OrderbusConfig,
    scenario: string,
    private readonly options: DrillPipelineOptions = {},
  ) {
    this.ns = `drill-${scenario}-${randomUUID().slice(0, 8)}`;
    this.log = options.log ?? (() => undefined);
  }

  get checkoutUrl(): string {
    return `http://${this.config.http.host}:${this.config.http.checkoutPort}`;
  }

  get groups(): string[] {
    return DRILL_GROUPS.map((g) => `${this.config.kafka.groupPrefix}${g}`);
  }

  /**
   * Creates the namespace (schema, topics), starts the providers, then every service process.
   * With `database` the services use that database instead of the shared one.
   */
  async start(database?: ServiceDatabase): Promise<void> {
    const ns = this.ns;
    const schema = ns.replace(/[^a-zA-Z0-9_]/g, '_');
    this.admin = createPool(safe(this.base), { max: 1 });
    await migrate(this.admin, schema);
    this.created.schema = true;
    const shared: OrderbusConfig = { ...this.base, database: { ...this.base.database, schema } };
    const own = database;
    const dbConfig = own ? own.serviceConfig(shared) : shared;
    if (own) {
      const ownAdmin = createPool(safe(own.directConfig(this.base)), { max: 1 });
      await migrate(ownAdmin, schema).finally(() => ownAdmin.end());
    }
    this.pool = createPool(safe(own ? own.directConfig(shared) : shared), { max: 6 });
    // The providers are the outside world: their ledgers do not go down with the services' database.
    this.providerPool = own ? createPool(safe(shared), { max: 6 }) : this.pool;
    this.providers = await startProviders(shared, this.providerPool, { randomPorts: true, scope: ns });
    const kadmin = await connectAdmin(this.base);
    let rf = 1;
    try {
      const cluster = await kadmin.describeCluster();
      this.brokerCount = cluster.brokers.length;
      rf = this.brokerCount >= 3 ? 3 : 1;
    } finally {
      await kadmin.disconnect().catch(() => undefined);
    }
    const withProviders = withProviderUrls(dbConfig, this.providers);
    this.config = {
      ...withProviders,
      kafka: { ...withProviders.kafka, groupPrefix: `${ns}.`, clientId: ns, sessionTimeoutMs: 10000 },
      topics: {
        ...withProviders.topics,
        orderEvents: `${ns}.order.events`,
        orderEventsDlq: `${ns}.order.events.dlq`,
        partitions: this.options.partitions ?? 6,
        replicationFactor: rf,
      },
      http: { ...withProviders.http, checkoutPort: await freePort() },
      database: { ...withProviders.database, poolSize: Math.min(withProviders.database.poolSize, 6) },
      rabbitPrefix: `${ns}.`,
      workers: {
        ...withProviders.workers,
        retryDelaysMs: DRILL_RETRY_DELAYS_MS,
        maxAttempts: 4,
        partnerWebhookUrl: `${this.providers.webhook.url}/hooks/v1`,
        emailRatePerSecond: Math.max(500, withProviders.workers.emailRatePerSecond),
      },
    };
    const k = await connectAdmin(this.config);
    try {
      const configEntries = rf >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
      await createTopicsAndWait(k, [
        {
          topic: this.config.topics.orderEvents,
          numPartitions: this.config.topics.partitions,
          replicationFactor: rf,
          configEntries,
        },
        { topic: this.config.topics.orderEventsDlq, numPartitions: 1, replicationFactor: rf, configEntries },
      ]);
      this.created.topics = true;
    } finally {
      await k.disconnect().catch(() => undefined);
    }
    this.created.rabbit = true;
    // The relay and the dispatcher first: they register the schemas and declare the task topology.
    await Promise.all(['outbox-relay', 'dispatcher'].map((p) => this.startProcess(p)));
    await Promise.all(
      Object.keys(PROCESSES)
        .filter((p) => !this.procs.has(p))
        .map((p) => this.startProcess(p)),
    );
  }

  processNames(): string[] {
    return Object.keys(PROCESSES);
  }

  /** The last `n` lines a service process wrote to stderr (its structured log), oldest first. */
  recentLog(name: string, n: number): string[] {
    return (this.procs.get(name)?.log ?? []).filter((l) => l.startsWith('{"t"')).slice(-n);
  }

  pid(name: string): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  /** Starts (or restarts) one service process and waits until it reports running. */
  async startProcess(name: string, timeoutMs = 60_000): Promise<void> {
    const services = PROCESSES[name];
    if (!services) throw new OrderbusError('UNKNOWN_DRILL_PROCESS', `no drill process '${name}'`);
    const args = [join(projectRoot(), 'bin', 'orderbus'), 'run', '--no-providers'];
    for (const s of services) args.push('--service', s);
    // Its own process group: a Ctrl-C at the terminal reaches the drill, which heals and then
    // stops the services itself.
    const child = spawn(process.execPath, args, {
      env: childEnv(configEnv(this.config)),
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    const running: Running = { child, log: [], exited: false, killed: false, ready: Promise.resolve() };
    running.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new OrderbusError('DRILL_SERVICE_TIMEOUT', `${name} did not start within ${timeoutMs / 1000}s`, {
              hint: 'orderbus stack status',
              details: { log: running.log.slice(-20) },
            }),
          ),
        timeoutMs,
      );
      let buf = '';
      child.stderr?.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          running.log.push(line);
          if (running.log.length > 200) running.log.shift();
          if (line.startsWith('{"t"')) {
            try {
              const { event } = JSON.parse(line) as { event?: unknown };
              if (typeof event === 'string') this.events.set(event, (this.events.get(event) ?? 0) + 1);
            } catch {
              // not one of ours
            }
          }
          if (line.startsWith('running:')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.once('exit', (code, signal) => {
        running.exited = true;
        clearTimeout(timer);
        if (!running.killed && !this.stopping)
          this.unexpected.push(
            `${name} (pid ${child.pid}) exited on its own (${signal ?? `code ${code}`}): ${lastError(running.log)}`,
          );
        reject(
          new OrderbusError(
            'DRILL_SERVICE_EXITED',
            `${name} exited (${signal ?? `code ${code}`}) before it was running: ${running.log.slice(-5).join(' | ')}`,
            { hint: 'orderbus stack status' },
          ),
        );
      });
    });
    // A rejection after the process was running is expected (kill -9); observe it here.
    running.ready.catch(() => undefined);
    this.procs.set(name, running);
    await running.ready;
    this.log(`${name} running (pid ${child.pid})`);
  }

  /** kill -9 one service process and wait until it is gone. */
  async kill(name: string): Promise<number | undefined> {
    const r = this.procs.get(name);
    if (!r || r.exited) return undefined;
    const pid = r.child.pid;
    r.killed = true;
    const gone = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGKILL');
    await gone;
    this.log(`${name} killed -9 (pid ${pid})`);
    return pid;
  }

  isRunning(name: string): boolean {
    const r = this.procs.get(name);
    return r !== undefined && !r.exited;
  }

  /** Restarts every process that is not running (heal after a crash). */
  async ensureRunning(): Promise<string[]> {
    const restarted: string[] = [];
    for (const name of Object.keys(PROCESSES)) {
      if (!this.isRunning(name)) {
        await this.startProcess(name);
        restarted.push(name);
      }
    }
    return restarted;
  }

  /** Stops the processes and providers and removes everything the namespace created. */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${errorMessage(e)}`);
      }
    };
    const stopping = Date.now();
    this.stopping = true;
    await step('stop services', async () => {
      await Promise.all(
        [...this.procs.values()]
          .filter((r) => !r.exited)
          .map(
            (r) =>
              new Promise<void>((resolve) => {
                const t = setTimeout(() => r.child.kill('SIGKILL'), 3000);
                r.child.once('exit', () => {
                  clearTimeout(t);
                  resolve();
                });
                r.child.kill('SIGTERM');
              }),
          ),
      );
    });
    this.log(`services stopped in ${((Date.now() - stopping) / 1000).toFixed(1)}s`);
    if (this.providers)
      await step('stop providers', () => Promise.all(Object.values(this.providers).map((p) => p.stop())));
    if (this.config && this.created.topics)
      await step('delete topics and groups', async () => {
        const a = await connectAdmin(this.config);
        try {
          await a.deleteTopics({
            topics: [this.config.topics.orderEvents, this.config.topics.orderEventsDlq],
          });
          // Groups that still have members (a process that had to be killed) cannot be deleted
          // yet; with their topic gone the broker drops them once their sessions expire.
          const groups = (await a.listGroups()).groups
            .map((g) => g.groupId)
            .filter((g) => g.startsWith(`${this.ns}.`));
          if (groups.length > 0) await a.deleteGroups(groups).catch(() => undefined);
        } finally {
          await a.disconnect().catch(() => undefined);
        }
      });
    if (this.config && this.created.rabbit)
      await step('delete queues', async () => {
        const conn = await connectRabbit(this.config, 'orderbus-drill-cleanup');
        try {
          const ch = await conn.createChannel();
          const t = topologyNames(topologyOptions(this.config));
          for (const q of WORK_QUEUES) {
            await ch.deleteQueue(t.queues[q]);
            await ch.deleteQueue(dlqName(t.queues[q]));
            for (const d of t.retryDelaysMs) await ch.deleteQueue(retryQueueName(t.queues[q], d));
          }
          for (const x of [t.taskExchange, t.retryExchange, t.dlxExchange]) await ch.deleteExchange(x);
        } finally {
          await conn.close().catch(() => undefined);
        }
      });
    if (this.config)
      await step('delete schemas', async () => {
        const r = await fetch(`${this.config.registry.url}/subjects`, { signal: AbortSignal.timeout(5000) });
        const subjects = (await r.json()) as string[];
        for (const s of subjects.filter((x) => x.startsWith(`${this.ns}.`)))
          await fetch(`${this.config.registry.url}/subjects/${encodeURIComponent(s)}`, {
            method: 'DELETE',
            signal: AbortSignal.timeout(5000),
          });
      });
    if (this.pool) await step('close pool', () => this.pool.end());
    const providerPool = this.providerPool;
    if (providerPool && providerPool !== this.pool)
      await step('close provider pool', () => providerPool.end());
    if (this.admin && this.created.schema) {
      const admin = this.admin;
      await step('drop schema', () =>
        admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.ns.replace(/[^a-zA-Z0-9_]/g, '_'))} CASCADE`),
      );
    }
    if (this.admin) await step('close admin pool', () => (this.admin as Pool).end());
    return problems;
  }
}

import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';
import type { Service, ServiceContext } from './service.js';

/**
 * Every service `orderbus run` knows, by name, with a lazy import so `--service payment` loads
 * only what payment needs. `orderbus run` with no --service starts them in this order and stops
 * them all at once, the providers last (runner.ts). Each service gets its own database pool,
 * sized to the process's budget.
 */
export interface BuildContext extends ServiceContext {
  /**
   * The service's PostgreSQL pool size: its nominal size (`connections` below), shrunk in
   * proportion when the services of one `orderbus run` process together would exceed
   * `database.processConnections` (runner.ts `poolSizes`).
   */
  poolSize: number;
  /** The service's name (its connections carry it as application_name). */
  name: string;
}

export type ServiceBuilder = (ctx: BuildContext) => Promise<Service>;

async function pool(ctx: BuildContext, settings?: Record<string, string>) {
  const { createPool } = await import('../adapters/postgres.js');
  // pg_stat_activity then tells which process and service holds each connection.
  const application = `${ctx.config.kafka.clientId}/${ctx.name}`.slice(0, 63);
  return createPool(ctx.config, {
    max: ctx.poolSize,
    settings: { application_name: application, ...settings },
  });
}

/** Wraps a service so stopping it also ends the pool it was given. */
function owning(service: Service, end: () => Promise<void>): Service {
  return {
    name: service.name,
    start: () => service.start(),
    stop: async () => {
      await service.stop();
      await end();
    },
  };
}

export interface ServiceEntry {
  description: string;
  /** Its nominal PostgreSQL pool size. */
  connections: (config: OrderbusConfig) => number;
  build: ServiceBuilder;
}

/** A service on a pool of its own (ended after the service stopped), built by `make`. */
function pooled(
  connections: number,
  description: string,
  make: (ctx: BuildContext, pool: Pool) => Promise<Service>,
  settings?: Record<string, string>,
): ServiceEntry {
  return {
    description,
    connections: () => connections,
    build: async (ctx) => {
      const p = await pool(ctx, settings);
      return owning(await make(ctx, p), () => p.end());
    },
  };
}

/**
 * Each service with its nominal PostgreSQL pool size (`connections`), which `orderbus run` adds up
 * against `database.processConnections` before it starts them.
 */
export const SERVICES: Record<string, ServiceEntry> = {
  providers: pooled(
    16,
    'the simulated payment, shipping, email and partner-webhook providers',
    async (ctx, p) => {
      const { startProviders } = await import('../providers/index.js');
      let running: Awaited<ReturnType<typeof startProviders>> | undefined;
      return {
        name: 'providers',
        start: async () => {
          running = await startProviders(ctx.config, p);
        },
        stop: async () => {
          await Promise.all(Object.values(running ?? {}).map((x) => x.stop()));
        },
      };
    },
  ),
  'checkout-api': {
    description: 'POST /api/checkout, GET /api/orders/:id, POST /api/orders/:id/cancel',
    connections: (config) => config.database.poolSize,
    build: async (ctx) => {
      const { CheckoutApi } = await import('../pipeline/checkout-api.js');
      return new CheckoutApi(ctx.config, ctx, { poolSize: ctx.poolSize });
    },
  },
  'outbox-relay': pooled(
    4,
    'publishes the outbox to Kafka (acks=all, idempotent)',
    async (ctx, p) => new (await import('../pipeline/outbox-relay.js')).OutboxRelay(ctx.config, p, ctx),
    // The relay's poll must be a plain scan of outbox_unsent_id (migration 033): a bitmap scan,
    // which the planner picks for a few unsent rows, never marks sent rows' entries dead.
    { enable_bitmapscan: 'off' },
  ),
  payment: pooled(8, 'charges on order.placed (exactly-once in effect)', async (ctx, p) =>
    (await import('../pipeline/payment.js')).paymentService(ctx.config, p, ctx),
  ),
  inventory: pooled(8, 'reserves stock on payment.captured', async (ctx, p) =>
    (await import('../pipeline/inventory.js')).inventoryService(ctx.config, p, ctx),
  ),
  shipping: pooled(
    12,
    'creates labels on inventory.reserved (slow provider off the fetch loop)',
    async (ctx, p) => new (await import('../pipeline/shipping.js')).ShippingService(ctx.config, p, ctx),
  ),
  saga: pooled(
    8,
    'order state machine, compensation, stuck-order sweeper',
    async (ctx, p) => new (await import('../pipeline/saga.js')).SagaService(ctx.config, p, ctx),
  ),
  loyalty: pooled(4, 'fan-out: points per paid order', async (ctx, p) =>
    (await import('../pipeline/fanout.js')).loyaltyService(ctx.config, p, ctx),
  ),
  'fraud-audit': pooled(4, 'fan-out: append-only audit of every event', async (ctx, p) =>
    (await import('../pipeline/fanout.js')).fraudAuditService(ctx.config, p, ctx),
  ),
  recommendations: pooled(4, 'fan-out: purchases per SKU', async (ctx, p) =>
    (await import('../pipeline/fanout.js')).recommendationsService(ctx.config, p, ctx),
  ),
  warehouse: pooled(4, 'fan-out: batched ingestion (eachBatch, ~200 ms per batch)', async (ctx, p) =>
    (await import('../pipeline/fanout.js')).warehouseService(ctx.config, p, ctx),
  ),
  dispatcher: pooled(
    4,
    'turns events into RabbitMQ tasks (commits only after publisher confirms)',
    async (ctx, p) => new (await import('../tasks/dispatcher.js')).Dispatcher(ctx.config, p, ctx),
  ),
  'email-worker': pooled(
    8,
    'sends emails (idempotent per order and template, shared rate limit)',
    async (ctx, p) => (await import('../tasks/workers.js')).emailWorker(ctx.config, p, ctx),
  ),
  'webhook-worker': {
    description: 'delivers partner webhooks (retry tiers, 410/404 dead-lettered at once)',
    connections: () => 0,
    build: async (ctx) => (await import('../tasks/workers.js')).webhookWorker(ctx.config, ctx),
  },
  retention: pooled(
    1,
    'prunes handled inbox rows, sent outbox rows, checkout and provider requests after retention.days',
    async (ctx, p) => new (await import('../pipeline/retention.js')).RetentionService(ctx.config, p, ctx),
  ),
  'analytics-worker': pooled(
    2,
    'stores analytics in batches (best effort: the queue has a TTL)',
    async (ctx, p) => (await import('../tasks/workers.js')).analyticsWorker(ctx.config, p, ctx),
  ),
};

export function serviceNames(): string[] {
  return Object.keys(SERVICES);
}

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
}

export type ServiceBuilder = (ctx: BuildContext) => Promise<Service>;

async function pool(ctx: BuildContext, settings?: Record<string, string>) {
  const { createPool } = await import('../adapters/postgres.js');
  return createPool(ctx.config, { max: ctx.poolSize, ...(settings ? { settings } : {}) });
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

/**
 * Each service with its nominal PostgreSQL pool size (`connections`), which `orderbus run` adds up
 * against `database.processConnections` before it starts them.
 */
export const SERVICES: Record<
  string,
  { description: string; connections: (config: OrderbusConfig) => number; build: ServiceBuilder }
> = {
  providers: {
    description: 'the simulated payment, shipping, email and partner-webhook providers',
    connections: () => 16,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { startProviders } = await import('../providers/index.js');
      let running: Awaited<ReturnType<typeof startProviders>> | undefined;
      return {
        name: 'providers',
        start: async () => {
          running = await startProviders(ctx.config, p);
        },
        stop: async () => {
          await Promise.all(Object.values(running ?? {}).map((x) => x.stop()));
          await p.end();
        },
      };
    },
  },
  'checkout-api': {
    description: 'POST /api/checkout, GET /api/orders/:id, POST /api/orders/:id/cancel',
    connections: (config) => config.database.poolSize,
    build: async (ctx) => {
      const { CheckoutApi } = await import('../pipeline/checkout-api.js');
      return new CheckoutApi(ctx.config, ctx, { poolSize: ctx.poolSize });
    },
  },
  'outbox-relay': {
    description: 'publishes the outbox to Kafka (acks=all, idempotent)',
    connections: () => 4,
    build: async (ctx) => {
      // The relay's poll must be a plain scan of outbox_unsent_id (migration 033): a bitmap scan,
      // which the planner picks for a few unsent rows, never marks sent rows' entries dead.
      const p = await pool(ctx, { enable_bitmapscan: 'off' });
      const { OutboxRelay } = await import('../pipeline/outbox-relay.js');
      return owning(new OutboxRelay(ctx.config, p, ctx), () => p.end());
    },
  },
  payment: {
    description: 'charges on order.placed (exactly-once in effect)',
    connections: () => 8,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { paymentService } = await import('../pipeline/payment.js');
      return owning(paymentService(ctx.config, p, ctx), () => p.end());
    },
  },
  inventory: {
    description: 'reserves stock on payment.captured',
    connections: () => 8,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { inventoryService } = await import('../pipeline/inventory.js');
      return owning(inventoryService(ctx.config, p, ctx), () => p.end());
    },
  },
  shipping: {
    description: 'creates labels on inventory.reserved (slow provider off the fetch loop)',
    connections: () => 12,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { ShippingService } = await import('../pipeline/shipping.js');
      return owning(new ShippingService(ctx.config, p, ctx), () => p.end());
    },
  },
  saga: {
    description: 'order state machine, compensation, stuck-order sweeper',
    connections: () => 8,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { SagaService } = await import('../pipeline/saga.js');
      return owning(new SagaService(ctx.config, p, ctx), () => p.end());
    },
  },
  loyalty: {
    description: 'fan-out: points per paid order',
    connections: () => 4,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { loyaltyService } = await import('../pipeline/fanout.js');
      return owning(loyaltyService(ctx.config, p, ctx), () => p.end());
    },
  },
  'fraud-audit': {
    description: 'fan-out: append-only audit of every event',
    connections: () => 4,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { fraudAuditService } = await import('../pipeline/fanout.js');
      return owning(fraudAuditService(ctx.config, p, ctx), () => p.end());
    },
  },
  recommendations: {
    description: 'fan-out: purchases per SKU',
    connections: () => 4,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { recommendationsService } = await import('../pipeline/fanout.js');
      return owning(recommendationsService(ctx.config, p, ctx), () => p.end());
    },
  },
  warehouse: {
    description: 'fan-out: batched ingestion (eachBatch, ~200 ms per batch)',
    connections: () => 4,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { warehouseService } = await import('../pipeline/fanout.js');
      return owning(warehouseService(ctx.config, p, ctx), () => p.end());
    },
  },
  dispatcher: {
    description: 'turns events into RabbitMQ tasks (commits only after publisher confirms)',
    connections: () => 4,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { Dispatcher } = await import('../tasks/dispatcher.js');
      return owning(new Dispatcher(ctx.config, p, ctx), () => p.end());
    },
  },
  'email-worker': {
    description: 'sends emails (idempotent per order and template, shared rate limit)',
    connections: () => 8,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { emailWorker } = await import('../tasks/workers.js');
      return owning(emailWorker(ctx.config, p, ctx), () => p.end());
    },
  },
  'webhook-worker': {
    description: 'delivers partner webhooks (retry tiers, 410/404 dead-lettered at once)',
    connections: () => 0,
    build: async (ctx) => {
      const { webhookWorker } = await import('../tasks/workers.js');
      return webhookWorker(ctx.config, ctx);
    },
  },
  'analytics-worker': {
    description: 'stores analytics in batches (best effort: the queue has a TTL)',
    connections: () => 2,
    build: async (ctx) => {
      const p = await pool(ctx);
      const { analyticsWorker } = await import('../tasks/workers.js');
      return owning(analyticsWorker(ctx.config, p, ctx), () => p.end());
    },
  },
};

export function serviceNames(): string[] {
  return Object.keys(SERVICES);
}

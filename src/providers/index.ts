import type { OrderbusConfig } from '../config.js';
import type { Pool } from '../adapters/postgres.js';
import { Provider, type ProviderName } from './provider.js';
import { emailRoute, paymentRoute, shippingRoute, webhookRoute } from './routes.js';

export { Provider, type Faults, type Ledger, type LedgerEntry, type ProviderName } from './provider.js';

const ROUTES = {
  payment: paymentRoute,
  shipping: shippingRoute,
  email: emailRoute,
  webhook: webhookRoute,
} as const;
export const PROVIDER_NAMES: ProviderName[] = ['payment', 'shipping', 'email', 'webhook'];

/** Admin endpoints listen 100 ports above the provider (8191–8194 for the defaults). */
export const ADMIN_PORT_OFFSET = 100;

export function providerUrl(config: OrderbusConfig, name: ProviderName): string {
  return {
    payment: config.providers.paymentUrl,
    shipping: config.providers.shippingUrl,
    email: config.providers.emailUrl,
    webhook: config.providers.webhookUrl,
  }[name];
}

export function providerAdminUrl(config: OrderbusConfig, name: ProviderName): string {
  const u = new URL(providerUrl(config, name));
  u.port = String(Number(u.port) + ADMIN_PORT_OFFSET);
  return u.origin;
}

export function createProvider(name: ProviderName, pool: Pool, scope: string = name): Provider {
  return new Provider(name, pool, ROUTES[name], scope);
}

/** Starts the four providers on their configured ports (or port 0 each, for tests). */
export async function startProviders(
  config: OrderbusConfig,
  pool: Pool,
  options: { randomPorts?: boolean; scope?: string } = {},
): Promise<Record<ProviderName, Provider>> {
  const out = {} as Record<ProviderName, Provider>;
  for (const name of PROVIDER_NAMES) {
    const p = createProvider(name, pool, options.scope ? `${options.scope}/${name}` : name);
    const port = options.randomPorts ? 0 : Number(new URL(providerUrl(config, name)).port);
    await p.start(port, options.randomPorts ? 0 : port + ADMIN_PORT_OFFSET);
    out[name] = p;
  }
  return out;
}

/** Points the config at providers started in-process (tests). */
export function withProviderUrls(
  config: OrderbusConfig,
  providers: Record<ProviderName, Provider>,
): OrderbusConfig {
  return {
    ...config,
    providers: {
      paymentUrl: providers.payment.url,
      shippingUrl: providers.shipping.url,
      emailUrl: providers.email.url,
      webhookUrl: providers.webhook.url,
    },
  };
}

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { poolSizes } from '../../src/runtime/runner.js';
import { SERVICES, serviceNames } from '../../src/runtime/services.js';

describe('poolSizes (the PostgreSQL connections of one orderbus run process)', () => {
  const config = loadConfig({ env: {} });

  it('gives a service run alone its nominal pool', () => {
    expect(poolSizes(config, ['payment']).get('payment')).toBe(8);
    expect(poolSizes(config, ['checkout-api']).get('checkout-api')).toBe(config.database.poolSize);
  });

  it('shrinks every pool in proportion when all services share one process, to fit the budget', () => {
    const all = serviceNames();
    const nominal = all.reduce((s, n) => s + (SERVICES[n]?.connections(config) ?? 0), 0);
    expect(nominal).toBeGreaterThan(config.database.processConnections);
    const sizes = poolSizes(config, all);
    const opened = all
      .filter((n) => (SERVICES[n]?.connections(config) ?? 0) > 0)
      .reduce((s, n) => s + (sizes.get(n) ?? 0), 0);
    expect(opened).toBeLessThanOrEqual(config.database.processConnections);
    for (const n of all) expect(sizes.get(n)).toBeGreaterThanOrEqual(2);
    expect(sizes.get('shipping')).toBeGreaterThan(sizes.get('outbox-relay') ?? 0);
  });

  it('follows database.processConnections', () => {
    const roomy = loadConfig({ env: { ORDERBUS_DATABASE_PROCESS_CONNECTIONS: '500' } });
    expect(poolSizes(roomy, serviceNames()).get('providers')).toBe(16);
    const bad = () => loadConfig({ env: { ORDERBUS_DATABASE_PROCESS_CONNECTIONS: '2' } });
    expect(bad).toThrow(/ORDERBUS_DATABASE_PROCESS_CONNECTIONS/);
  });
});

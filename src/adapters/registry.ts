import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError, errorMessage } from '../errors.js';

export { SchemaType };
export type Registry = SchemaRegistry;

export function createRegistry(config: OrderbusConfig): SchemaRegistry {
  return new SchemaRegistry({ host: config.registry.url });
}

export function registryUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  return new OrderbusError(
    'REGISTRY_UNREACHABLE',
    `cannot reach the schema registry at ${config.registry.url}: ${errorMessage(cause)}`,
    {
      hint: 'orderbus stack status (and orderbus stack up to start the local registry)',
      retriable: true,
      subject: config.registry.url,
      cause,
    },
  );
}

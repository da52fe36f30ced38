import type { Pool } from '../adapters/postgres.js';
import type { OrderbusConfig } from '../config.js';

/** A long-running part of the pipeline that `orderbus run` starts and stops. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Graceful: finish or hand back in-flight work, commit what is done, close connections. */
  stop(): Promise<void>;
}

export interface ServiceContext {
  config: OrderbusConfig;
  /** Structured log line to stderr (services never print to stdout). */
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/**
 * A service that works on its own database pool: the configuration, the pool, where it logs and
 * its options, as every such service takes them.
 */
export abstract class PooledService<O extends object> implements Service {
  abstract readonly name: string;
  protected readonly options: O;

  constructor(
    protected readonly config: OrderbusConfig,
    protected readonly pool: Pool,
    protected readonly ctx: Pick<ServiceContext, 'log'>,
    options?: O,
  ) {
    this.options = options ?? ({} as O);
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
}

export type ServiceFactory = (ctx: ServiceContext) => Service | Promise<Service>;

export function stderrLogger(service: string): ServiceContext['log'] {
  return (event, fields = {}) => {
    process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), service, event, ...fields })}\n`);
  };
}

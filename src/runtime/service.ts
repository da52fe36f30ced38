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

export type ServiceFactory = (ctx: ServiceContext) => Service | Promise<Service>;

export function stderrLogger(service: string): ServiceContext['log'] {
  return (event, fields = {}) => {
    process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), service, event, ...fields })}\n`);
  };
}

import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrderbusConfig } from '../../config.js';
import { OrderbusError, errorMessage } from '../../errors.js';
import { ensureDatabase } from '../stack/postgres-setup.js';
import { execFileAsync } from '../stack/processes.js';
import { freePort } from './pipeline.js';
import { TcpFaultProxy } from './tcp-proxy.js';

/** Where Debian's PostgreSQL 15 keeps its server binaries (initdb, pg_ctl). */
const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A throwaway PostgreSQL cluster for the database drills, so a restart, stall or connection
 * hog never touches the shared server: `initdb` in a temporary directory owned by the postgres
 * user (initdb refuses root), `pg_ctl` on a port of its own, trust authentication on loopback.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** `config` gives every database setting but the URL (the cluster has its own). */
  static async create(config: OrderbusConfig): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'orderbus-pg-'));
    const db = new PrivatePostgres(dir, await freePort());
    try {
      if (process.getuid?.() === 0) {
        const id = async (flag: string) =>
          Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim());
        chownSync(dir, await id('-u'), await id('-g'));
      }
      await db.ctl(`${PG_BIN}/initdb`, ['-D', join(dir, 'data'), '--auth=trust', '-U', 'postgres']);
      await db.start();
      await ensureDatabase(db.configFor(config), 'orderbus');
      return db;
    } catch (e) {
      await db.remove();
      throw new OrderbusError(
        'PRIVATE_POSTGRES_FAILED',
        `could not start a private PostgreSQL: ${errorMessage(e)}`,
        {
          hint: `${PG_BIN}/initdb --version (the database drills need PostgreSQL 15's server binaries)`,
          cause: e,
        },
      );
    }
  }

  url(database = 'orderbus', port = this.port): string {
    return `postgres://postgres@127.0.0.1:${port}/${database}`;
  }

  /** `config` pointed at this cluster (through `port`, a proxy's, if given). */
  configFor(config: OrderbusConfig, port = this.port): OrderbusConfig {
    return { ...config, database: { ...config.database, url: this.url('orderbus', port) } };
  }

  /** Starts the server and waits until it takes connections. */
  async start(): Promise<void> {
    await this.pgCtl([
      'start',
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1`,
    ]);
  }

  /** Stops the server: `fast` ends every session (57P01, as a restart does), `immediate` crashes it. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pgCtl(['stop', '-w', '-t', '60', '-m', mode]);
  }

  async remove(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pgCtl(args: string[]): Promise<unknown> {
    return this.ctl(`${PG_BIN}/pg_ctl`, ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), ...args]);
  }

  /** Runs a server binary as the postgres user (when root) in the cluster's directory. */
  private ctl(bin: string, args: string[]): Promise<unknown> {
    const asRoot = process.getuid?.() === 0;
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
    return execFileAsync(cmd, argv, { cwd: this.dir, timeout: 120_000 });
  }
}

/**
 * The database of a database drill: a private cluster, and the TCP fault proxy the services reach
 * it through (a stall is the proxy black-holing it). The drill itself reads the cluster directly.
 */
export class DrillDatabase {
  private constructor(
    readonly server: PrivatePostgres,
    readonly proxy: TcpFaultProxy,
  ) {}

  static async start(config: OrderbusConfig): Promise<DrillDatabase> {
    const server = await PrivatePostgres.create(config);
    const proxy = new TcpFaultProxy(await freePort(), server.port);
    try {
      await proxy.start();
    } catch (e) {
      await server.remove();
      throw e;
    }
    return new DrillDatabase(server, proxy);
  }

  /** `config` as the services use it: the cluster through the proxy. */
  serviceConfig(config: OrderbusConfig): OrderbusConfig {
    return this.server.configFor(config, this.proxy.port);
  }

  /** `config` as the drill's own checks use it: the cluster directly. */
  directConfig(config: OrderbusConfig): OrderbusConfig {
    return this.server.configFor(config);
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
    await this.server.remove();
  }
}

import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A small TCP fault proxy (no toxiproxy server or netem is available here): latency, bandwidth,
 * blackhole (accept and stall), reset (RST every connection) and refuse (close the listener).
 * For Kafka it must be what the broker advertises, or clients bypass it after the first metadata
 * call: listen on the advertised port and forward to the broker's internal one.
 */
export interface ProxyFaults {
  /** Added one way, per chunk, in ms. */
  latencyMs?: number;
  /** Bytes per second in each direction; 0 or undefined is unlimited. */
  bandwidthBytesPerSecond?: number;
  /** Accept connections and pass nothing (a black hole: the peer waits until its own timeout). */
  blackhole?: boolean;
  /** Reset every open and new connection. */
  reset?: boolean;
}

export interface ProxyStats {
  accepted: number;
  open: number;
  bytesUp: number;
  bytesDown: number;
  resets: number;
}

export class TcpFaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private faults: ProxyFaults = {};
  readonly stats: ProxyStats = { accepted: 0, open: 0, bytesUp: 0, bytesDown: 0, resets: 0 };

  constructor(
    readonly listenPort: number,
    readonly targetPort: number,
    readonly host = '127.0.0.1',
  ) {}

  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a ? a.port : this.listenPort;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => resolve());
    });
    this.server = server;
  }

  /** Stop listening and drop every connection: new connections are refused. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  setFaults(faults: ProxyFaults): void {
    this.faults = { ...faults };
    if (faults.reset) {
      for (const sock of this.sockets) {
        this.stats.resets++;
        sock.resetAndDestroy();
      }
    }
  }

  heal(): void {
    this.faults = {};
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    if (this.faults.reset) {
      this.stats.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ port: this.targetPort, host: this.host });
    this.track(client);
    this.track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.resetAndDestroy());
    this.pipe(client, upstream, 'up');
    this.pipe(upstream, client, 'down');
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    this.stats.open = this.sockets.size;
    s.once('close', () => {
      this.sockets.delete(s);
      this.stats.open = this.sockets.size;
    });
  }

  /** Forward chunks in order, applying the current faults to each. */
  private pipe(from: Socket, to: Socket, dir: 'up' | 'down'): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.faults.blackhole) return;
      from.pause();
      chain = chain
        .then(async () => {
          const f = this.faults;
          const delay =
            (f.latencyMs ?? 0) +
            (f.bandwidthBytesPerSecond ? (chunk.length / f.bandwidthBytesPerSecond) * 1000 : 0);
          if (delay > 0) await new Promise((r) => setTimeout(r, delay));
          if (this.faults.blackhole || to.destroyed) return;
          if (dir === 'up') this.stats.bytesUp += chunk.length;
          else this.stats.bytesDown += chunk.length;
          to.write(chunk);
        })
        .finally(() => from.resume());
    });
    from.on('end', () => void chain.then(() => to.end()));
    from.on('close', () => void chain.then(() => to.destroy()));
  }
}

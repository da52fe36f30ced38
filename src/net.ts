import { connect } from 'node:net';

/** True when something accepts a TCP connection on host:port within the timeout. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolveOpen(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Node's codes for a failed TLS handshake: an unknown CA, a name mismatch, an expired certificate, a refused protocol. */
const TLS_FAILURE_CODES =
  /^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|CERT_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|EPROTO$)/;

/** Whether `e` is a failed TLS handshake (by its Node error code). */
export function isTlsFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_FAILURE_CODES.test(code);
}

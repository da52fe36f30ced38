import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import amqp from 'amqplib';
import type { OrderbusConfig } from '../config.js';
import { readConfigPath } from '../config-secrets.js';
import { OrderbusError, errorMessage } from '../errors.js';
import { unreachableHint } from '../local-stack.js';
import { isTlsFailure } from '../net.js';

export type AmqpConnection = amqp.ChannelModel;
export type ConfirmChannel = amqp.ConfirmChannel;
export type Channel = amqp.Channel;

export async function connectRabbit(config: OrderbusConfig, name = 'orderbus'): Promise<AmqpConnection> {
  const socketOptions: Record<string, unknown> = {
    timeout: 5000,
    clientProperties: { connection_name: name },
  };
  if (config.rabbitmq.tlsCaFile)
    socketOptions.ca = [readConfigPath('rabbitmq.tlsCaFile', config.rabbitmq.tlsCaFile)];
  // A cluster's nodes in turn: the first that answers (a killed node refuses at once).
  let last: unknown;
  for (const url of [config.rabbitmq.url, ...config.rabbitmq.failoverUrls]) {
    try {
      const conn = await amqp.connect(url, socketOptions);
      // Without a listener an 'error' event would crash the process; owners watch 'close'.
      conn.on('error', () => undefined);
      return conn;
    } catch (e) {
      if (isTlsFailure(e)) throw rabbitUnreachable(config, e);
      last = e;
    }
  }
  throw rabbitUnreachable(config, last);
}

/** True when the connection was refused: nothing was sent, so another node may be asked. */
function refused(e: unknown): boolean {
  return (e as { code?: unknown } | undefined)?.code === 'ECONNREFUSED';
}

/**
 * A TLS handshake refused by AMQP or the management API (amqps://, https://): not retriable, and
 * the hint names rabbitmq.tlsCaFile rather than starting a broker. Undefined for any other failure.
 */
export function rabbitTlsFailure(
  config: Pick<OrderbusConfig, 'context'>,
  what: string,
  host: string,
  cause: unknown,
): OrderbusError | undefined {
  if (!isTlsFailure(cause)) return undefined;
  const where = config.context ? `context ${config.context}` : 'the configuration';
  return new OrderbusError(
    'RABBITMQ_TLS_FAILED',
    `${what} at ${host} refused the TLS connection: ${errorMessage(cause)}`,
    {
      hint: `check rabbitmq.tlsCaFile of ${where}: the CA that signs the broker's certificate (orderbus context show, orderbus config)`,
      subject: host,
      cause,
    },
  );
}

/**
 * The broker closed a channel with 404 NOT_FOUND: the queue (or exchange) it named does not exist
 * now. A queue the management API listed can be deleted before it is read, and the listing itself
 * can trail a deletion by a statistics interval.
 */
export function isNotFoundOnChannel(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 404;
}

export function rabbitUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  const u = new URL(config.rabbitmq.url);
  const tls = rabbitTlsFailure(config, 'RabbitMQ', u.host, cause);
  if (tls) return tls;
  return new OrderbusError(
    'RABBITMQ_UNREACHABLE',
    `cannot reach RabbitMQ at ${u.host}: ${errorMessage(cause)}`,
    {
      hint: unreachableHint(
        'rabbitmq',
        config.rabbitmq.url,
        'rabbitmq-server -detached, then orderbus stack up',
        {
          key: 'rabbitmq.url',
          context: config.context,
        },
      ),
      retriable: true,
      subject: u.host,
      cause,
    },
  );
}

/** A management API answer: the status and the body. */
interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * One HTTP(S) request with node:http(s): Node's global fetch cannot take a CA per request, and
 * a management API behind the cluster's own CA must be verified against `tlsCaFile`.
 */
function request(url: URL, init: ManagementInit, ca: Buffer | undefined): Promise<HttpAnswer> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        signal: init.signal ?? AbortSignal.timeout(5000),
        ...(ca ? { ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface ManagementInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Basic-auth request to the management HTTP API (over TLS with the configured CA); errors become OrderbusErrors. */
export async function managementApi<T>(
  config: OrderbusConfig,
  path: string,
  init: ManagementInit = {},
): Promise<T> {
  const bases = [config.rabbitmq.managementUrl, ...config.rabbitmq.managementFailoverUrls];
  for (const [i, b] of bases.entries()) {
    try {
      return await managementAt<T>(config, b, path, init);
    } catch (e) {
      if (i === bases.length - 1 || !(e instanceof OrderbusError) || !refused(e.cause)) throw e;
    }
  }
  throw new Error('unreachable: managementApi tried no URL');
}

async function managementAt<T>(
  config: OrderbusConfig,
  managementUrl: string,
  path: string,
  init: ManagementInit,
): Promise<T> {
  const base = new URL(managementUrl);
  const auth = Buffer.from(
    `${decodeURIComponent(base.username || 'guest')}:${decodeURIComponent(base.password || 'guest')}`,
  ).toString('base64');
  base.username = '';
  base.password = '';
  const url = new URL(`${base.toString().replace(/\/$/, '')}/api${path}`);
  const ca = config.rabbitmq.tlsCaFile
    ? readConfigPath('rabbitmq.tlsCaFile', config.rabbitmq.tlsCaFile)
    : undefined;
  let res: HttpAnswer;
  try {
    res = await request(
      url,
      {
        ...init,
        headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json', ...init.headers },
      },
      ca,
    );
  } catch (e) {
    throw (
      rabbitTlsFailure(config, 'the RabbitMQ management API', base.host, e) ??
      new OrderbusError(
        'RABBITMQ_MANAGEMENT_UNREACHABLE',
        `cannot reach the RabbitMQ management API at ${base.host}: ${errorMessage(e)}`,
        {
          hint: unreachableHint(
            'management',
            config.rabbitmq.managementUrl,
            'rabbitmq-plugins enable rabbitmq_management (orderbus stack up does it)',
            {
              key: 'rabbitmq.managementUrl (the management plugin must be enabled there)',
              context: config.context,
            },
          ),
          retriable: true,
          subject: base.host,
          cause: e,
        },
      )
    );
  }
  if (res.status === 404) {
    throw new OrderbusError('RABBITMQ_NOT_FOUND', `RabbitMQ management API: ${path} not found`, {
      subject: path,
      hint: 'orderbus queues',
    });
  }
  if (res.status < 200 || res.status > 299) {
    throw new OrderbusError(
      'RABBITMQ_MANAGEMENT_ERROR',
      `RabbitMQ management API ${path}: HTTP ${res.status} ${res.text.slice(0, 200)}`,
      {
        subject: path,
        retriable: res.status >= 500,
      },
    );
  }
  if (res.status === 204) return undefined as T;
  return (res.text ? JSON.parse(res.text) : undefined) as T;
}

import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import type { OrderbusConfig } from '../config.js';
import { OrderbusError, errorMessage } from '../errors.js';

export type AmqpConnection = amqp.ChannelModel;
export type ConfirmChannel = amqp.ConfirmChannel;
export type Channel = amqp.Channel;

export async function connectRabbit(config: OrderbusConfig, name = 'orderbus'): Promise<AmqpConnection> {
  const socketOptions: Record<string, unknown> = {
    timeout: 5000,
    clientProperties: { connection_name: name },
  };
  if (config.rabbitmq.tlsCaFile) socketOptions.ca = [readFileSync(config.rabbitmq.tlsCaFile)];
  try {
    const conn = await amqp.connect(config.rabbitmq.url, socketOptions);
    // Without a listener an 'error' event would crash the process; owners watch 'close'.
    conn.on('error', () => undefined);
    return conn;
  } catch (e) {
    throw rabbitUnreachable(config, e);
  }
}

export function rabbitUnreachable(config: OrderbusConfig, cause: unknown): OrderbusError {
  const u = new URL(config.rabbitmq.url);
  return new OrderbusError(
    'RABBITMQ_UNREACHABLE',
    `cannot reach RabbitMQ at ${u.host}: ${errorMessage(cause)}`,
    {
      hint: 'rabbitmq-server -detached, then orderbus stack up',
      retriable: true,
      subject: u.host,
      cause,
    },
  );
}

/** Basic-auth fetch against the management HTTP API; errors become OrderbusErrors. */
export async function managementApi<T>(
  config: OrderbusConfig,
  path: string,
  init: RequestInit = {},
): Promise<T> {
  const base = new URL(config.rabbitmq.managementUrl);
  const auth = Buffer.from(
    `${decodeURIComponent(base.username || 'guest')}:${decodeURIComponent(base.password || 'guest')}`,
  ).toString('base64');
  base.username = '';
  base.password = '';
  const url = `${base.toString().replace(/\/$/, '')}/api${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: {
        authorization: `Basic ${auth}`,
        'content-type': 'application/json',
        ...(init.headers ?? {}),
      },
      signal: init.signal ?? AbortSignal.timeout(5000),
    });
  } catch (e) {
    throw new OrderbusError(
      'RABBITMQ_MANAGEMENT_UNREACHABLE',
      `cannot reach the RabbitMQ management API at ${base.host}: ${errorMessage(e)}`,
      {
        hint: 'rabbitmq-plugins enable rabbitmq_management (orderbus stack up does it)',
        retriable: true,
        subject: base.host,
        cause: e,
      },
    );
  }
  if (res.status === 404) {
    throw new OrderbusError('RABBITMQ_NOT_FOUND', `RabbitMQ management API: ${path} not found`, {
      subject: path,
      hint: 'orderbus queues',
    });
  }
  if (!res.ok) {
    const body = await res.text().catch(() => '');
    throw new OrderbusError(
      'RABBITMQ_MANAGEMENT_ERROR',
      `RabbitMQ management API ${path}: HTTP ${res.status} ${body.slice(0, 200)}`,
      {
        subject: path,
        retriable: res.status >= 500,
      },
    );
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

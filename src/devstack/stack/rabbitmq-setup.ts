import type { OrderbusConfig } from '../../config.js';
import { OrderbusError } from '../../errors.js';
import { connectRabbit, managementApi } from '../../adapters/rabbitmq.js';
import { declareTaskTopology } from '../../tasks/topology.js';
import { commandExists, execFileAsync, waitFor } from './processes.js';

export const RABBIT_PLUGINS = ['rabbitmq_management', 'rabbitmq_shovel', 'rabbitmq_shovel_management'];

async function amqpReachable(config: OrderbusConfig): Promise<boolean> {
  try {
    const conn = await connectRabbit(config, 'orderbus-stack-probe');
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

export interface RabbitSetupResult {
  started: boolean;
  pluginsEnabled: string[];
  version?: string;
}

/** Uses the running server (starts it if down and local), enables the plugins, declares the topology. */
export async function setupRabbitmq(
  config: OrderbusConfig,
  log: (s: string) => void,
  options: { enablePlugins?: boolean } = {},
): Promise<RabbitSetupResult> {
  let started = false;
  if (!(await amqpReachable(config))) {
    const host = new URL(config.rabbitmq.url).hostname;
    const local = host === '127.0.0.1' || host === 'localhost';
    if (!local || !(await commandExists('rabbitmq-server'))) {
      throw new OrderbusError(
        'RABBITMQ_UNREACHABLE',
        `cannot reach RabbitMQ at ${new URL(config.rabbitmq.url).host}`,
        {
          hint: local
            ? 'apt-get install -y rabbitmq-server && rabbitmq-server -detached'
            : 'start RabbitMQ there, or set ORDERBUS_RABBITMQ_URL',
          subject: config.rabbitmq.url,
        },
      );
    }
    log('RabbitMQ is down; starting it (rabbitmq-server -detached)');
    await execFileAsync('rabbitmq-server', ['-detached']).catch(() => undefined);
    started = true;
    await waitFor('rabbitmq', async () => (await amqpReachable(config)) || undefined, {
      timeoutMs: 90_000,
      intervalMs: 1000,
      onTimeout: () =>
        new OrderbusError('RABBITMQ_START_TIMEOUT', 'RabbitMQ did not accept connections within 90s', {
          hint: 'less /var/log/rabbitmq/*.log',
        }),
    });
  }
  const pluginsEnabled = options.enablePlugins === false ? [] : await enablePlugins(config, log);
  const overview = await waitFor(
    'rabbitmq management',
    () => managementApi<{ rabbitmq_version?: string }>(config, '/overview'),
    {
      timeoutMs: 60_000,
      intervalMs: 1000,
      onTimeout: () =>
        new OrderbusError(
          'RABBITMQ_MANAGEMENT_UNREACHABLE',
          `the RabbitMQ management API at ${new URL(config.rabbitmq.managementUrl).host} does not answer`,
          {
            hint: `rabbitmq-plugins enable ${RABBIT_PLUGINS.join(' ')}`,
          },
        ),
    },
  );
  const conn = await connectRabbit(config, 'orderbus-stack');
  try {
    const ch = await conn.createChannel();
    // The stack's own names (no test prefix), of the queue type the target runs: quorum on a cluster.
    await declareTaskTopology(ch, {
      retryDelaysMs: config.workers.retryDelaysMs,
      queueType: config.rabbitmq.queueType,
    });
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
  return {
    started,
    pluginsEnabled,
    ...(overview.rabbitmq_version ? { version: overview.rabbitmq_version } : {}),
  };
}

async function enablePlugins(config: OrderbusConfig, log: (s: string) => void): Promise<string[]> {
  const host = new URL(config.rabbitmq.url).hostname;
  if (!(host === '127.0.0.1' || host === 'localhost') || !(await commandExists('rabbitmq-plugins')))
    return [];
  const { stdout } = await execFileAsync('rabbitmq-plugins', ['list', '-e', '-m']);
  const enabled = new Set(stdout.split('\n').map((s) => s.trim()));
  const missing = RABBIT_PLUGINS.filter((p) => !enabled.has(p));
  if (missing.length === 0) return [];
  log(`enabling RabbitMQ plugins: ${missing.join(' ')}`);
  await execFileAsync('rabbitmq-plugins', ['enable', ...missing]);
  return missing;
}

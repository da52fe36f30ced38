import type { Command } from 'commander';
import type { StackStatus } from '../src/devstack/stack/stack.js';
import { configFrom } from './context.js';
import { formatComponents } from './format-ops.js';
import { parseBrokers } from './options.js';
import { formatTable, log, paint, printHealth, printJson, printTable } from './output.js';

export function defineStack(program: Command): void {
  const stack = program
    .command('stack')
    .description(
      'bring the local stack (Kafka, RabbitMQ, PostgreSQL, schema registry) up, down, or report it',
    );

  stack
    .command('up')
    .description('start every component and wait until healthy (idempotent)')
    .option('--brokers <n>', 'Kafka brokers: 1 or 3', '1')
    .option(
      '--rabbit-nodes <n>',
      'RabbitMQ: 1 (the machine node) or 3 (a private cluster, quorum queues)',
      '1',
    )
    .option('--local', 'use local processes even when a Docker engine answers')
    .option('--json', 'machine output')
    .action(
      async (
        opts: { brokers: string; rabbitNodes: string; local?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const brokers = parseBrokers(opts.brokers, 'orderbus stack up --brokers 3');
        const rabbitNodes = parseBrokers(
          opts.rabbitNodes,
          'orderbus stack up --rabbit-nodes 3',
          '--rabbit-nodes',
        );
        const { stackUp } = await import('../src/devstack/stack/stack.js');
        const result = await stackUp(configFrom(cmd), {
          brokers,
          rabbitNodes,
          log: (s) => log(s),
          ...(opts.local ? { local: true } : {}),
        });
        if (opts.json) return printJson(result);
        log(
          result.changed.length === 0
            ? 'everything was already up; nothing changed'
            : `started: ${result.changed.join('; ')}`,
        );
        printTable(
          ['COMPONENT', 'ENDPOINT'],
          Object.entries(result.endpoints).map(([k, v]) => [k, v]),
        );
        log(
          `stack up (${result.mode}, ${result.brokers} broker${result.brokers > 1 ? 's' : ''}, ${result.rabbitNodes} RabbitMQ node${result.rabbitNodes > 1 ? 's' : ''}) in ${result.seconds.toFixed(1)}s`,
        );
      },
    );

  stack
    .command('down')
    .description('stop only what `stack up` started; keeps data unless --purge')
    .option('--purge', 'also delete Kafka and registry data')
    .option('--json', 'machine output')
    .action(async (opts: { purge?: boolean; json?: boolean }, cmd: Command) => {
      const { stackDown } = await import('../src/devstack/stack/stack.js');
      const result = await stackDown(configFrom(cmd), { purge: opts.purge ?? false, log: (s) => log(s) });
      if (opts.json) return printJson(result);
      log(
        result.stopped.length === 0 ? 'nothing of ours was running' : `stopped: ${result.stopped.join('; ')}`,
      );
      if (result.purged) log('data purged');
    });

  stack
    .command('status')
    .description('each component: up/down, address, version, PID; Kafka controller and brokers')
    .option('--json', 'machine output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { stackStatus } = await import('../src/devstack/stack/stack.js');
      printHealth(await stackStatus(configFrom(cmd)), opts.json, renderStackStatus);
    });
}

export function renderStackStatus(status: StackStatus): string {
  const components = formatComponents(status.components, true);
  const kafka = status.components.find((c) => c.name === 'kafka');
  const rabbit = status.components.find((c) => c.name === 'rabbitmq');
  const nodes =
    rabbit?.brokers && rabbit.brokers.length > 0
      ? `\n\n${formatTable(
          ['RABBITMQ NODE', 'ADDRESS', 'STATUS', 'PID'],
          rabbit.brokers.map((b) => [b.nodeId, b.address, paint.status(b.status), b.pid]),
        )}`
      : '';
  if (!kafka?.brokers || kafka.brokers.length === 0) return `${components}${nodes}`;
  const brokers = formatTable(
    ['BROKER', 'ADDRESS', 'STATUS', 'PID', 'CONTROLLER'],
    kafka.brokers.map((b) => [
      b.nodeId,
      b.address,
      paint.status(b.status),
      b.pid,
      kafka.controller === b.nodeId ? 'yes' : '',
    ]),
  );
  return `${components}\n\n${brokers}${nodes}`;
}

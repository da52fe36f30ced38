import type { Command } from 'commander';
import type { QueueInfo } from '../src/ops/queues.js';
import { withCommandOps } from './context.js';
import { parseWatchSeconds } from './options.js';
import { formatTable, printResult } from './output.js';
import { watch } from './watch.js';

export function renderQueues(queues: QueueInfo[]): string {
  return formatTable(
    ['QUEUE', 'TYPE', 'READY', 'UNACKED', 'CONSUMERS', 'PUBLISH/S', 'DELIVER/S', 'ACK/S', 'DLQ', 'DLQ-DEPTH'],
    queues
      .filter((q) => q.role !== 'retry')
      .map((q) => [
        q.name,
        q.type,
        q.ready,
        q.unacked,
        q.consumers,
        q.publishRate,
        q.deliverRate,
        q.ackRate,
        q.dlq,
        q.dlqDepth,
      ]),
  );
}

export function defineQueues(program: Command): void {
  program
    .command('queues')
    .description('every RabbitMQ queue: ready, unacked, consumers, rates, type, and its DLQ depth')
    .option('--watch [seconds]', 'refresh every N seconds (default 5)')
    .option('--json', 'machine output')
    .action(async (opts: { watch?: string | true; json?: boolean }, cmd: Command) => {
      const { listQueues } = await import('../src/ops/queues.js');
      await withCommandOps(cmd, async (ctx) => {
        if (opts.watch === undefined) return printResult(await listQueues(ctx), opts.json, renderQueues);
        await watch(parseWatchSeconds(opts.watch, 'orderbus queues --watch 5'), () => listQueues(ctx), {
          json: opts.json === true,
          render: renderQueues,
        });
      });
    });
}

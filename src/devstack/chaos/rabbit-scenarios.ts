import { managementApi } from '../../adapters/rabbitmq.js';
import { OrderbusError } from '../../errors.js';
import { dataDir } from '../../paths.js';
import {
  rabbitNodeAlive,
  runningNodes,
  startRabbitNode,
  type RabbitNodeState,
} from '../stack/rabbit-cluster.js';
import { waitFor } from '../stack/processes.js';
import { readState, writeState } from '../stack/state.js';
import { topologyNames, topologyOptions } from '../../tasks/topology.js';
import { invariant } from './report.js';
import type { DrillContext, Scenario } from './scenario.js';

/**
 * rabbitmq-node-kill: on a 3-node cluster (`stack up --rabbit-nodes 3`), the node leading the most
 * work queues is killed -9 under load. Quorum queues elect leaders on the survivors and clients
 * fail over to the other nodes (rabbitmq.failoverUrls); the node is started again at the end of
 * the fault window and rejoins. Classic queues would stay on the dead node: nothing to move to.
 */
export const RABBIT_NODES_NEEDED = 3;

interface QueueRow {
  name: string;
  type?: string;
  leader?: string;
  node?: string;
}

interface KillResult {
  node: RabbitNodeState;
  /** Work queues led by the killed node when it died. */
  led: number;
  /** Work queues still led by (or living on) the killed node after the election wait. */
  stranded: string[];
}

const kills = new WeakMap<DrillContext, KillResult>();

export function rabbitClusterNodes(ctx: Pick<DrillContext, 'config'>): RabbitNodeState[] {
  return readState(dataDir(ctx.config))?.rabbit ?? [];
}

/** The drill pipeline's work queues (e-mail's priority queue included) with where each is led. */
async function workQueues(ctx: DrillContext): Promise<QueueRow[]> {
  const t = topologyNames(topologyOptions(ctx.pipeline.config));
  const names = new Set<string>([
    ...Object.values(t.queues),
    ...(t.emailPriorityQueue ? [t.emailPriorityQueue] : []),
  ]);
  const rows = await managementApi<QueueRow[]>(
    ctx.pipeline.config,
    '/queues/%2F?columns=name,type,leader,node',
  );
  return rows.filter((q) => names.has(q.name));
}

const leaderOf = (q: QueueRow) => q.leader ?? q.node ?? '';

/** The node leading most of the work queues (killing it moves the most leaders). */
function busiest(rows: QueueRow[], nodes: RabbitNodeState[]): RabbitNodeState {
  const count = (n: RabbitNodeState) => rows.filter((q) => leaderOf(q) === n.node).length;
  const sorted = [...nodes].sort((a, b) => count(b) - count(a) || a.index - b.index);
  return sorted[0]!;
}

async function inject(ctx: DrillContext): Promise<void> {
  const nodes = rabbitClusterNodes(ctx);
  const before = await workQueues(ctx);
  const node = busiest(before, nodes);
  if (!rabbitNodeAlive(node))
    throw new OrderbusError('RABBITMQ_NODE_NOT_RUNNING', `RabbitMQ node ${node.node} is not running`, {
      hint: 'orderbus stack status',
    });
  const led = before.filter((q) => leaderOf(q) === node.node).length;
  process.kill(node.pid, 'SIGKILL');
  const result: KillResult = { node, led, stranded: before.map((q) => q.name) };
  kills.set(ctx, result);
  ctx.observe('killed node', node.node);
  ctx.observe('work queues it led', led);
  ctx.note(`RabbitMQ node ${node.node} killed -9 (pid ${node.pid}, leading ${led} work queues)`);
  // Quorum queues elect a leader among the survivors; a classic queue has nothing to move to.
  const deadline = Date.now() + 30_000;
  while (!ctx.signal.aborted) {
    const rows = await workQueues(ctx).catch(() => undefined);
    if (rows) {
      result.stranded = rows.filter((q) => leaderOf(q) === node.node).map((q) => q.name);
      if (result.stranded.length === 0 || rows.some((q) => q.type !== 'quorum')) break;
    }
    if (Date.now() > deadline) break;
    await ctx.sleep(250);
  }
  ctx.observe('work queues left on the killed node', result.stranded.length);
  ctx.note(
    result.stranded.length === 0
      ? 'every work queue led by a surviving node'
      : `still on ${node.node}: ${result.stranded.join(', ')}`,
  );
}

async function heal(ctx: DrillContext): Promise<void> {
  const killed = kills.get(ctx)?.node;
  if (!killed || rabbitNodeAlive(killed)) return;
  const dir = dataDir(ctx.config);
  const started = await startRabbitNode(killed);
  const state = readState(dir);
  if (state)
    writeState(dir, {
      ...state,
      rabbit: (state.rabbit ?? []).map((n) => (n.node === killed.node ? started : n)),
    });
  kills.set(ctx, { ...kills.get(ctx)!, node: started });
  const all = rabbitClusterNodes(ctx).length;
  await waitFor('node rejoined', async () => (await runningNodes(started)).length >= all || undefined, {
    timeoutMs: 60_000,
    intervalMs: 500,
    onTimeout: () =>
      new OrderbusError('RABBITMQ_CLUSTER_INCOMPLETE', `${killed.node} did not rejoin the cluster`, {
        hint: `rabbitmqctl -n ${killed.node} cluster_status`,
      }),
  });
  ctx.note(`RabbitMQ node ${killed.node} started again (pid ${started.pid}); rejoined the cluster`);
}

export const RABBIT_NODE_KILL: Scenario = {
  name: 'rabbitmq-node-kill',
  summary: 'the RabbitMQ node leading the most work queues of three is killed -9, then restarted',
  proves: 'quorum queues: leaders move to the survivors, clients fail over, nothing lost or sent twice',
  requiresRabbitNodes: RABBIT_NODES_NEEDED,
  settleExtraMs: 30_000,
  inject,
  heal,
  checks: (ctx) => {
    const k = kills.get(ctx);
    const stranded = k?.stranded.length ?? 0;
    return [
      invariant(
        'work-queue leaders moved to surviving nodes',
        stranded,
        k !== undefined && stranded === 0,
        k
          ? `${k.led} work queues led by ${k.node.node} when killed; ${stranded} still there after the election${stranded ? ` (${k.stranded.join(', ')})` : ''}`
          : 'no node was killed',
      ),
    ];
  },
};

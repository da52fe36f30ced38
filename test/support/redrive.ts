import type { OrderbusConfig } from '../../src/config.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import {
  dlqName,
  topologyNames,
  topologyOptions,
  TaskHeaders,
  type WorkQueue,
} from '../../src/tasks/topology.js';

/** Moves every dead letter of a work queue back to it, confirm first (a plain test helper). */
export async function redriveAllTo(config: OrderbusConfig, queue: WorkQueue): Promise<number> {
  const t = topologyNames(topologyOptions(config));
  const conn = await connectRabbit(config, 'test-redrive');
  const ch = await conn.createConfirmChannel();
  let n = 0;
  for (;;) {
    const m = await ch.get(dlqName(t.queues[queue]), { noAck: false });
    if (!m) break;
    ch.publish(t.taskExchange, t.queues[queue], m.content, {
      ...m.properties,
      headers: { ...m.properties.headers, [TaskHeaders.attempt]: 1 },
    });
    await ch.waitForConfirms();
    ch.ack(m);
    n++;
  }
  await conn.close();
  return n;
}

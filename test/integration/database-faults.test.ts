import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/adapters/postgres.js';
import { TcpFaultProxy } from '../../src/devstack/chaos/tcp-proxy.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import { ConfirmedPublisher } from '../../src/tasks/publisher.js';
import type { EmailTask } from '../../src/tasks/task.js';
import { dlqName } from '../../src/tasks/topology.js';
import { analyticsWorker, emailWorker } from '../../src/tasks/workers.js';
import { closeAfterEach } from '../support/cleanups.js';
import { analyticsTask, queueDepth } from '../support/dead-letters.js';
import { ledgerCount } from '../support/kill-service.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

// The database goes away under running services — its connections terminated (as a restart or a
// failover does), or every connection refused — and each service waits, reconnects and finishes
// its work without a process restart, and without dead-lettering anything for it.

let p: TestPipeline | undefined;
const cleanups = closeAfterEach(async () => {
  await p?.stop();
  p = undefined;
});

/** Spawns `orderbus run --service name` and waits until it reports running; keeps its stderr. */
async function running(
  pipeline: TestPipeline,
  name: string,
): Promise<{ child: ChildProcess; log: string[] }> {
  const child = pipeline.spawnService(name);
  const log: string[] = [];
  child.stderr?.on('data', (d: Buffer) => log.push(...d.toString('utf8').split('\n')));
  await waitUntil(`${name} running`, () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${log.slice(-10).join(' | ')}`);
    return log.some((l) => l.startsWith('running:'));
  });
  return { child, log };
}

/** pg_terminate_backend of every connection the namespace's `services` hold (by application_name). */
async function terminate(pipeline: TestPipeline, services: string[]): Promise<number> {
  const { rows } = await pipeline.db.pool.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE application_name = ANY($1::text[])`,
    [services.map((s) => `${pipeline.ns}/${s}`)],
  );
  return rows[0]?.n ?? 0;
}

async function unsent(pipeline: TestPipeline): Promise<number> {
  const { rows } = await pipeline.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL',
  );
  return rows[0]?.n ?? -1;
}

describe('services ride out a lost database connection', () => {
  it('the relay keeps relaying after its LISTEN connection (and every other) is terminated', async () => {
    p = await startTestPipeline({ label: 'dbrelay', services: ['checkout-api'] });
    const relay = await running(p, 'outbox-relay');
    await p.placeOrder();
    await waitUntil('the first order relayed', async () => (await unsent(p!)) === 0);
    expect(await terminate(p, ['outbox-relay'])).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await p.placeOrder();
    await waitUntil('the orders placed after the cut relayed', async () => (await unsent(p!)) === 0, {
      timeoutMs: 20_000,
    });
    expect(relay.child.exitCode, relay.log.slice(-10).join('\n')).toBeNull();
    await waitUntil('LISTEN again', () => relay.log.some((l) => l.includes('relay.listening-again')));
  });

  it('every pipeline service keeps running and settles its orders after all its connections are terminated, twice, mid-flight', async () => {
    p = await startTestPipeline({ label: 'dbcut', services: ['checkout-api'] });
    const names = ['outbox-relay', 'payment', 'inventory', 'shipping', 'saga'];
    const procs = await Promise.all(names.map((n) => running(p!, n)));
    // Without the task workers an order ends at shipped (or failed).
    const settled = (ids: string[], timeoutMs = 30_000) =>
      waitUntil(
        `${ids.length} orders shipped or failed`,
        async () => {
          const s = await p!.statuses(ids);
          return ids.every((id) => s[id] === 'shipped' || s[id] === 'failed') ? s : undefined;
        },
        { timeoutMs, intervalMs: 250 },
      );
    await settled([await p.placeOrder(), await p.placeOrder()]);
    const during: string[] = [];
    for (let i = 0; i < 4; i++) during.push(await p.placeOrder());
    expect(await terminate(p, names)).toBeGreaterThan(names.length);
    for (let i = 0; i < 4; i++) during.push(await p.placeOrder());
    await terminate(p, names);
    expect(Object.keys(await settled(during, 60_000))).toHaveLength(8);
    for (const [i, proc] of procs.entries())
      expect(proc.child.exitCode, `${names[i]}: ${proc.log.slice(-10).join('\n')}`).toBeNull();
  });
});

describe('task workers wait out the database', () => {
  it('e-mail tasks are not dead-lettered while the database refuses connections, and are sent once when it returns', async () => {
    p = await startTestPipeline({ label: 'dbemail', services: [] });
    const url = new URL(p.config.database.url);
    const proxy = new TcpFaultProxy(0, Number(url.port || 5432));
    await proxy.start();
    cleanups.push(() => proxy.stop());
    url.port = String(proxy.port);
    const config = { ...p.config, database: { ...p.config.database, url: url.toString() } };
    const pool = createPool(config, { max: 4 });
    cleanups.push(() => pool.end());
    const worker = emailWorker(config, pool, { log: () => undefined });
    await worker.start();
    cleanups.push(() => worker.stop());
    proxy.setFaults({ reset: true });
    const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
    cleanups.push(() => pub.close());
    const t = await pub.topologyNames();
    const task = (i: number): EmailTask => ({
      kind: 'email',
      taskId: `${p!.ns}-email-${i}`,
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      template: 'order-confirmation',
      to: `c${i}@example.com`,
      data: {},
      causationId: `00000000-0000-4000-8000-${String(i + 100).padStart(12, '0')}`,
      correlationId: `00000000-0000-4000-8000-${String(i + 200).padStart(12, '0')}`,
    });
    await pub.publishAll([0, 1, 2].map((i) => toMessage(t, task(i))));
    await waitUntil('the worker trying the database', () => proxy.stats.resets > 0);
    // Longer than the test pipeline's retry tiers (200 + 400 ms, 3 attempts): the old worker had
    // dead-lettered all three by now.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await queueDepth(p, dlqName(t.queues['email.tasks']))).toBe(0);
    expect(await ledgerCount(p, 'email', 'email')).toBe(0);
    proxy.heal();
    await waitUntil('three e-mails sent', async () => (await ledgerCount(p!, 'email', 'email')) === 3, {
      timeoutMs: 20_000,
    });
    expect(await queueDepth(p, dlqName(t.queues['email.tasks']))).toBe(0);
  });

  it('a failed analytics batch is handed back with backoff, not in a hot loop, and stored once the database answers', async () => {
    p = await startTestPipeline({ label: 'dbanalytics', services: [] });
    let calls = 0;
    let down = true;
    const stored = new Set<string>();
    // The database as the worker sees it: a restart's 57P01 while `down`, then a working insert.
    const pool = {
      query: async (_sql: string, params: unknown[]) => {
        calls++;
        if (down)
          throw Object.assign(new Error('terminating connection due to administrator command'), {
            code: '57P01',
          });
        for (const id of (params[0] as string[]) ?? []) stored.add(id);
        return { rows: [], rowCount: 0 };
      },
    } as unknown as Pool;
    const worker = analyticsWorker(p.config, pool, { log: () => undefined });
    await worker.start();
    cleanups.push(() => worker.stop());
    const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
    cleanups.push(() => pub.close());
    const t = await pub.topologyNames();
    // More than a batch (200): a batch handed back at once is redelivered and fills at once.
    const tasks = Array.from({ length: 500 }, (_, i) => analyticsTask(p!, i));
    await pub.publishAll(tasks.map((x) => toMessage(t, x)));
    await waitUntil('a first failed batch', () => calls > 0);
    // Observed for 3 s: backoff from 250 ms doubling makes a few attempts per batch in flight; a
    // batch handed back at once is redelivered and fails again at once, hundreds of times.
    await new Promise((r) => setTimeout(r, 3000));
    expect(calls).toBeLessThan(20);
    down = false;
    await waitUntil('every task stored', () => stored.size === 500, { timeoutMs: 15_000 });
    await waitUntil(
      'the queue drained',
      async () => (await queueDepth(p!, t.queues['analytics.tasks'])) === 0,
    );
  });
});

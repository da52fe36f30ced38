import { afterEach, describe, expect, it } from 'vitest';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { providerAdmin } from '../../src/providers/client.js';
import { TcpFaultProxy } from '../../src/devstack/chaos/tcp-proxy.js';
import { ConfirmedPublisher } from '../../src/tasks/publisher.js';
import { toMessage } from '../../src/tasks/dispatcher.js';
import { dlqName, TaskHeaders } from '../../src/tasks/topology.js';
import type { AnalyticsTask } from '../../src/tasks/task.js';
import { TaskWorker } from '../../src/tasks/worker.js';
import { analyticsTask, movePartnerEndpoint, queueDepth, webhookTask } from '../support/dead-letters.js';
import { killMidFlight, ledgerCount } from '../support/kill-service.js';
import { CORE, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

describe('task layer on RabbitMQ', () => {
  it('a moved partner URL (410) dead-letters every webhook at once with its failure context while the queue keeps flowing', async () => {
    p = await startTestPipeline({ label: 'moved', services: ['webhook-worker'] });
    await movePartnerEndpoint(p);
    const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
    const t = await pub.topologyNames();
    await pub.publishAll([
      ...Array.from({ length: 8 }, (_, i) => toMessage(t, webhookTask(p!, i, '/hooks/v1/orders'))),
      toMessage(t, webhookTask(p, 100, '/hooks/v2/orders')),
    ]);
    await waitUntil(
      '8 dead letters',
      async () => (await queueDepth(p!, dlqName(t.queues['webhook.tasks']))) === 8,
    );
    // The worker performs several webhooks at once, so the good one (published last) may still be in
    // flight when the eighth dead letter lands: wait for its delivery rather than read it once.
    await waitUntil(
      'the good webhook delivered',
      async () => (await providerAdmin.ledger(p!.providers.webhook.adminUrl)).counts.delivery === 1,
    );
    const conn = await connectRabbit(p.config, 'test-browse');
    const ch = await conn.createChannel();
    const m = await ch.get(dlqName(t.queues['webhook.tasks']), { noAck: false });
    expect(m).toBeTruthy();
    const h = (m as { properties: { headers: Record<string, unknown> } }).properties.headers;
    expect(String(h[TaskHeaders.errorClass])).toBe('HttpGone');
    expect(Number(h[TaskHeaders.statusCode])).toBe(410);
    expect(String(h[TaskHeaders.responseBody])).toContain('/hooks/v2/orders');
    expect(String(h[TaskHeaders.originalQueue])).toBe(t.queues['webhook.tasks']);
    expect(String(h[TaskHeaders.originalExchange])).toBe(t.taskExchange);
    expect(Number(h[TaskHeaders.attempt])).toBe(1);
    expect(String(h[TaskHeaders.firstFailureAt])).toMatch(/^\d{4}-/);
    ch.nack(m as never, false, true);
    await conn.close();
    await pub.close();
  });

  it('batches finishing out of order are each acked: the channel survives, every task is consumed', async () => {
    p = await startTestPipeline({ label: 'tbatch', services: [] });
    const performed: number[] = [];
    let calls = 0;
    const worker = new TaskWorker<AnalyticsTask>(
      p.config,
      { log: () => undefined },
      {
        queue: 'analytics.tasks',
        name: 'test-analytics',
        prefetch: 500,
        validate: (b): b is AnalyticsTask => (b as { kind?: unknown }).kind === 'analytics',
        batch: {
          size: 50,
          waitMs: 50,
          // The first batch is slow, so the next ones finish before it (a burst on a loaded machine).
          perform: async (tasks) => {
            if (calls++ === 0) await new Promise((r) => setTimeout(r, 1000));
            performed.push(tasks.length);
          },
        },
      },
    );
    await worker.start();
    try {
      const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
      const t = await pub.topologyNames();
      const tasks = Array.from({ length: 150 }, (_, i) => analyticsTask(p!, i));
      await pub.publishAll(tasks.map((task) => toMessage(t, task)));
      await pub.close();
      await waitUntil('every task performed', () => performed.reduce((a, b) => a + b, 0) >= 150);
      const q = t.queues['analytics.tasks'];
      await waitUntil('the queue drained and acked', async () => {
        const conn = await connectRabbit(p!.config, 'test-check');
        const ch = await conn.createChannel();
        const info = await ch.checkQueue(q);
        await conn.close();
        return info.messageCount === 0 && info.consumerCount === 1;
      });
      // Nothing was requeued by a closed channel and performed again.
      await new Promise((r) => setTimeout(r, 500));
      expect(performed.reduce((a, b) => a + b, 0)).toBe(150);
    } finally {
      await worker.stop();
    }
  });

  it('retries through the delay tiers: failing twice then succeeding is delivered on attempt 3', async () => {
    p = await startTestPipeline({ label: 'retry', services: ['webhook-worker'], retryDelaysMs: [300, 600] });
    const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
    const t = await pub.topologyNames();
    await providerAdmin.faults(p.providers.webhook.adminUrl, { errorRate: 1, errorStatus: 503 });
    const started = Date.now();
    await pub.publishAll([toMessage(t, webhookTask(p, 1, '/hooks/v1/orders'))]);
    await waitUntil(
      'two failed attempts',
      async () => (await queueDepth(p!, `${t.queues['webhook.tasks']}.retry.600`)) === 1,
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    await providerAdmin.faults(p.providers.webhook.adminUrl, {});
    await waitUntil(
      'delivered',
      async () => (await providerAdmin.ledger(p!.providers.webhook.adminUrl)).counts.delivery === 1,
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    // Attempt 1 failed, waited ≥ 300 ms, attempt 2 failed, waited ≥ 600 ms, attempt 3 delivered.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await pub.close();
  });

  it('a connection that stops answering (no close, no confirms) is dropped and the batch published again', async () => {
    p = await startTestPipeline({ label: 'confirms' });
    const rabbit = new URL(p.config.rabbitmq.url);
    const proxy = new TcpFaultProxy(0, Number(rabbit.port || 5672));
    await proxy.start();
    rabbit.port = String(proxy.port);
    const pub = new ConfirmedPublisher(
      { ...p.config, rabbitmq: { ...p.config.rabbitmq, url: rabbit.toString() } },
      'test-confirms',
      () => undefined,
      1500,
    );
    try {
      const t = await pub.topologyNames();
      proxy.setFaults({ blackhole: true });
      const tasks = Array.from({ length: 5 }, (_, i) => webhookTask(p!, i, '/hooks/v1/orders'));
      const publishing = pub.publishAll(tasks.map((task) => toMessage(t, task)));
      // Healed after the confirm timeout: the stalled connection never hears of its publishes
      // again (their bytes were swallowed), so only dropping it and publishing anew delivers them.
      await new Promise((r) => setTimeout(r, 2500));
      proxy.heal();
      await Promise.race([
        publishing,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('publishAll still waiting after 30 s')), 30_000),
        ),
      ]);
      const queue = t.queues['webhook.tasks'];
      expect(await queueDepth(p, queue)).toBe(5);
    } finally {
      await pub.close();
      await proxy.stop();
    }
  });

  it('a worker killed -9 with unacked tasks: they are redelivered and each delivered once', async () => {
    p = await startTestPipeline({ label: 'wkill' });
    await providerAdmin.faults(p.providers.webhook.adminUrl, { latencyMs: 300 });
    const pub = new ConfirmedPublisher(p.config, 'test', () => undefined);
    const t = await pub.topologyNames();
    await pub.publishAll(
      Array.from({ length: 30 }, (_, i) => toMessage(t, webhookTask(p!, i, '/hooks/v1/orders'))),
    );
    const worker = p.spawnService('webhook-worker');
    const again = await killMidFlight(p, worker, 'webhook-worker', {
      provider: 'webhook',
      kind: 'delivery',
      atLeast: 3,
      what: 'some delivered',
    });
    await waitUntil('all delivered', async () => (await ledgerCount(p!, 'webhook', 'delivery')) === 30, {
      timeoutMs: 60_000,
    });
    again.kill('SIGKILL');
    const ledger = await providerAdmin.ledger(p.providers.webhook.adminUrl);
    expect(ledger.duplicates).toBe(0);
    expect(new Set(ledger.entries.map((e) => e.key)).size).toBe(30);
    await pub.close();
  });

  it('the dispatcher killed -9 between publish and commit: no lost task, no duplicate side effect', async () => {
    p = await startTestPipeline({ label: 'dkill', services: [...CORE, 'email-worker'] });
    const first = p.spawnService('dispatcher');
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => p!.placeOrder('normal', i)));
    const dispatcher = await killMidFlight(p, first, 'dispatcher', {
      provider: 'email',
      kind: 'email',
      atLeast: 3,
      what: 'some emails sent',
    });
    await waitUntil(
      'every order notified',
      async () => Object.values(await p!.statuses(ids)).every((s) => s === 'notified'),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    dispatcher.kill('SIGKILL');
    const ledger = await providerAdmin.ledger(p.providers.email.adminUrl);
    expect(ledger.counts.email).toBe(2 * ids.length);
    expect(ledger.duplicates).toBe(0);
  });
});

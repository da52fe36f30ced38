import type { DlqMessageView, GroupView } from '../../ui/model.js';
import { consoleOpsContract, type Seed } from '../support/console-ops-contract.js';
import { FakeConsoleOps } from '../support/fake-console-ops.js';

/** The port's contract against the in-memory fake the UI tests use (the real one: integration project). */
function fakeWorld(seed: Seed) {
  const topic = 'contract.events';
  const group = 'contract.group';
  const queue = 'contract.webhook.tasks';
  const dlq = `${queue}.dlq`;
  const fixUrl = { from: 'http://partner.test/hooks/v1', to: 'http://partner.test/hooks/v2' };
  const g: GroupView = {
    group,
    state: 'Empty',
    members: 0,
    status: 'OK',
    totalLag: seed.partitions.reduce((s, p) => s + (p.committed === null ? 0 : p.records - p.committed), 0),
    timeLagMs: null,
    etaSeconds: null,
    // As Kafka lists a group without members: only the partitions it has committed on.
    partitions: seed.partitions.flatMap(({ records, committed }, partition) =>
      committed === null
        ? []
        : [
            {
              topic,
              partition,
              committed,
              end: records,
              lag: records - committed,
              timeLagMs: null,
              owner: null,
              status: 'OK' as const,
            },
          ],
    ),
  };
  const letters: DlqMessageView[] = Array.from({ length: seed.deadLetters }, (_, i) => ({
    id: `contract-task-${i}`,
    payload: JSON.stringify(
      {
        kind: 'webhook',
        taskId: `contract-task-${i}`,
        url: `${fixUrl.from}/orders`,
        payload: { orderId: `o-${i}` },
      },
      null,
      2,
    ),
    headers: {
      'x-error-class': 'HttpGone',
      'x-error-status': '410',
      'x-last-failure-at': new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    },
    attempts: 1,
    errorClass: 'HttpGone',
    errorMessage: '410 Gone',
    destination: `orderbus.tasks/${queue}`,
  }));
  const queueView = {
    name: queue,
    type: 'quorum',
    ready: 0,
    unacked: 0,
    consumers: 1,
    publishRate: 0,
    deliverRate: 0,
    ackRate: 0,
    dlqDepth: 0,
  };
  return Promise.resolve({
    ops: new FakeConsoleOps({
      groups: [g],
      queues: [queueView],
      topics: { [topic]: seed.partitions.map((p) => p.records) },
      dlq: { [dlq]: letters, 'contract.events.dlq': [] },
      kafkaDlqs: ['contract.events.dlq'],
    }),
    group,
    topic,
    queue,
    dlq,
    kafkaDlq: 'contract.events.dlq',
    letters: letters.map((m) => m.id),
    fixUrl,
    cleanup: () => Promise.resolve(),
  });
}

consoleOpsContract('FakeConsoleOps', fakeWorld);

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConsoleOps } from '../../ui/model.js';
import { waitUntil } from './wait.js';

/**
 * The contract of the console's port (ui/model.ts `ConsoleOps`), one suite run against the
 * in-memory fake the UI tests use (unit project) and the real OpsAdapter on the running stack
 * (integration project). Where they disagree, the fake is wrong.
 */

/** What every world is seeded with before each case. */
export const SEED = {
  /** A topic of two partitions and one consumer group that has committed on partition 0 only. */
  partitions: [
    { records: 5, committed: 2 },
    { records: 3, committed: null },
  ],
  /** Webhook tasks dead-lettered because the partner's endpoint moved (410 Gone). */
  deadLetters: 3,
} as const;

export type Seed = typeof SEED;

/** A seeded world: the port, and the names of what was seeded in it. */
export interface ContractWorld {
  ops: ConsoleOps;
  group: string;
  topic: string;
  /** The work queue whose DLQ holds the dead letters. */
  queue: string;
  dlq: string;
  /** A Kafka DLQ topic of the world, with no dead letters. */
  kafkaDlq: string;
  /** Ids of the dead letters, in the order they were dead-lettered. */
  letters: string[];
  /** The URL prefix in the dead letters, and where the partner moved it. */
  fixUrl: { from: string; to: string };
  cleanup(): Promise<void>;
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e as { code?: string }).code,
  );

/** A browse of every seeded letter (a reader elsewhere, such as a console, may hold them for a moment). */
const everyLetter = (w: ContractWorld) =>
  waitUntil('a browse showing every letter', async () => {
    const page = await w.ops.dlqMessages(w.dlq, 200);
    return page.messages.length === SEED.deadLetters ? page : null;
  });

export function consoleOpsContract(name: string, seed: (s: Seed) => Promise<ContractWorld>): void {
  describe(`ConsoleOps contract: ${name}`, () => {
    let w: ContractWorld;
    beforeEach(async () => {
      w = await seed(SEED);
    });
    afterEach(async () => {
      await w?.ops.close();
      await w?.cleanup();
    });

    it('overview lists the seeded group with the lag of each partition it committed on, and the queue with its DLQ depth', async () => {
      const o = await w.ops.overview();
      const g = o.groups.find((x) => x.group === w.group);
      expect(g).toMatchObject({ group: w.group, state: 'Empty', members: 0, totalLag: 3 });
      expect(
        g?.partitions
          .filter((p) => p.topic === w.topic)
          .map(({ partition, committed, end, lag }) => ({ partition, committed, end, lag })),
      ).toEqual([{ partition: 0, committed: 2, end: 5, lag: 3 }]);
      // RabbitMQ's management API refreshes queue depths every few seconds: poll as the console does.
      const queue = await waitUntil('the queue with its DLQ depth in the overview', async () => {
        const q = (await w.ops.overview()).queues.find((x) => x.name === w.queue);
        return q?.dlqDepth === SEED.deadLetters ? q : null;
      });
      expect(queue.name).toBe(w.queue);
      expect(o.queues.filter((q) => /\.retry\.\d+$/.test(q.name))).toEqual([]);
      // The Kafka DLQ beside the RabbitMQ queues, its outstanding letters as ready.
      expect(o.queues.find((q) => q.name === w.kafkaDlq)).toMatchObject({ type: 'kafka', ready: 0 });
    });

    it('DLQ browse shows the seeded letters, oldest first, and removes none', async () => {
      // Another reader (a console elsewhere) may hold the letters for a moment: they are still counted,
      // once RabbitMQ's management API has caught up with them.
      const summary = await waitUntil('the DLQ summary counting every letter', async () => {
        const s = (await w.ops.dlqs()).find((d) => d.name === w.dlq);
        return s?.count === SEED.deadLetters && Object.keys(s.byClass).length > 0 ? s : null;
      });
      expect(summary).toMatchObject({
        kind: 'rabbitmq',
        count: SEED.deadLetters,
        byClass: { 'HttpGone (410)': SEED.deadLetters },
      });
      // Failure times of the oldest and newest letter, ISO-8601.
      expect(summary?.oldest).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect((summary?.newest ?? '') >= (summary?.oldest ?? '')).toBe(true);
      const page = await everyLetter(w);
      expect(page.total).toBe(SEED.deadLetters);
      const shown = page.messages;
      expect(shown.map((m) => m.id)).toEqual(w.letters);
      for (const m of shown) {
        expect(m).toMatchObject({ errorClass: 'HttpGone', attempts: 1 });
        expect(JSON.parse(m.payload)).toMatchObject({ url: `${w.fixUrl.from}/orders` });
      }
      const two = await waitUntil('a page of two of all the letters', async () => {
        const page = await w.ops.dlqMessages(w.dlq, 2);
        return page.total === SEED.deadLetters ? page : null;
      });
      expect({ ids: two.messages.map((m) => m.id), total: two.total }).toEqual({
        ids: w.letters.slice(0, 2),
        total: SEED.deadLetters,
      });
      expect((await w.ops.dlqs()).find((d) => d.name === w.dlq)?.count).toBe(SEED.deadLetters);
      expect(await codeOf(w.ops.dlqMessages(`${w.dlq}x`, 10))).toBe('UNKNOWN_DLQ');
    });

    it('a redrive plan counts the letters, diffs each one a fixed URL changes, and sends nothing', async () => {
      expect(await w.ops.planRedrive({ dlq: w.dlq })).toEqual({
        toRedrive: SEED.deadLetters,
        unchanged: SEED.deadLetters,
        invalid: 0,
        diffs: [],
      });
      const fixed = await w.ops.planRedrive({ dlq: w.dlq, fixUrl: w.fixUrl });
      expect(fixed).toMatchObject({ toRedrive: SEED.deadLetters, unchanged: 0, invalid: 0 });
      expect(fixed.diffs.map((d) => d.split(' → ')[0])).toEqual(w.letters);
      for (const d of fixed.diffs) expect(d).toContain(`+   "url": "${w.fixUrl.to}/orders"`);
      const one = await w.ops.planRedrive({ dlq: w.dlq, ids: [w.letters[1] ?? ''], fixUrl: w.fixUrl });
      expect(one).toMatchObject({ toRedrive: 1, unchanged: 0 });
      expect((await w.ops.dlqMessages(w.dlq, 200)).messages.length).toBe(SEED.deadLetters);
    });

    it('a plan reports what it scanned, and an aborted plan rejects and leaves every letter in place', async () => {
      const progress: [number, number][] = [];
      await w.ops.planRedrive({ dlq: w.dlq }, { onProgress: (done, total) => progress.push([done, total]) });
      expect(progress.at(-1)).toEqual([SEED.deadLetters, SEED.deadLetters]);
      const aborted = new AbortController();
      aborted.abort();
      expect(await codeOf(w.ops.planRedrive({ dlq: w.dlq }, { signal: aborted.signal }))).not.toBe(
        'resolved',
      );
      const page = await everyLetter(w);
      expect(page.messages.map((m) => m.id)).toEqual(w.letters);
    });

    it('a reset plan covers every partition of the topic, and refuses a topic that does not exist', async () => {
      expect(await w.ops.planReset(w.group, w.topic, 'latest')).toEqual({
        group: w.group,
        topic: w.topic,
        strategy: 'latest',
        rows: [
          { partition: 0, current: 2, target: 5, delta: 3 },
          { partition: 1, current: null, target: 3, delta: 0 },
        ],
      });
      expect((await w.ops.planReset(w.group, w.topic, 'earliest')).rows).toEqual([
        { partition: 0, current: 2, target: 0, delta: -2 },
        { partition: 1, current: null, target: 0, delta: 0 },
      ]);
      // A group with no offsets yet gets a plan (Kafka's tool creates them), nothing to re-read.
      expect(
        (await w.ops.planReset(`${w.group}-new`, w.topic, 'earliest')).rows.map((r) => r.current),
      ).toEqual([null, null]);
      expect(await codeOf(w.ops.planReset(w.group, `${w.topic}-missing`, 'earliest'))).toBe('UNKNOWN_TOPIC');
    });
  });
}

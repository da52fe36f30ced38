import { connectRabbit, managementApi, type Channel } from '../../../src/adapters/rabbitmq.js';
import type { OrderbusConfig } from '../../../src/config.js';
import type { RedriveResult } from '../../../src/ops/dlq/index.js';
import type { Benchmark, Sample } from '../harness.js';
import { amqpPublishConfirmLoop } from '../references.js';
import {
  DeadLetterFeeder,
  NEW_URL,
  OLD_URL,
  amqpShovel,
  deadLetter,
  ensureVhost,
  seedDeadLetters,
} from './dead-letter-feed.js';
import { bin, config as stackConfig, peakRss, runId, timed, type Timed } from './timed.js';

/**
 * redrive: `orderbus dlq redrive --fix-url …`, the dry run and then `--execute`, over a DLQ of
 * REDRIVE_N dead letters that keeps receiving FEED_RATE new ones a second (an incident still in
 * progress), against plain amqplib reading the same letters and publishing them with confirms.
 * Each run checks the summaries (the snapshot redriven, the arrivals left and reported) and that
 * no letter was lost or doubled (target queue + DLQ = seeded + fed). It runs in a scratch vhost:
 * on a shared broker, another `dlq list` or console browsing every `*.dlq` queue would hold part
 * of the letters while they are counted and taken.
 */

const REDRIVE_N = Number(process.env.ORDERBUS_BENCH_REDRIVE ?? 100_000);
const FEED_RATE = Number(process.env.ORDERBUS_BENCH_REDRIVE_FEED ?? 50);
const target = `bench-redrive-${runId}.tasks`;
const dlq = `${target}.dlq`;
const fixUrl = `${OLD_URL}=${NEW_URL}`;
const vhost = `orderbus-bench-${runId}`;

/** The stack's RabbitMQ, in the scratch vhost. */
function inVhost(c: OrderbusConfig): OrderbusConfig {
  const url = new URL(c.rabbitmq.url);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return { ...c, rabbitmq: { ...c.rabbitmq, url: url.toString(), vhost } };
}
const config = inVhost(stackConfig);

type Counts = Omit<RedriveResult, 'items'>;

/** A summary's counts (its items left out: they would fill an error message). */
function countsOf(stdout: string): Counts {
  const { items: _items, ...counts } = JSON.parse(stdout) as RedriveResult;
  return counts;
}

/** Fails the run unless the summary covers at least the seeded letters with the counts wanted. */
function expectCounts(what: string, c: Counts, want: Partial<Counts>): void {
  const wrong = Object.entries(want).filter(([k, v]) => c[k as keyof Counts] !== v);
  if (c.snapshot < REDRIVE_N || wrong.length > 0)
    throw new Error(`redrive bench: ${what}: ${JSON.stringify(c)}`);
}

async function withChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
  const conn = await connectRabbit(config, 'bench-redrive');
  try {
    return await fn(await conn.createChannel());
  } finally {
    await conn.close().catch(() => undefined);
  }
}

const ready = (ch: Channel, q: string) => ch.checkQueue(q).then((r) => r.messageCount);

/** Waits until `ok` holds (polled every 200 ms) or fails with `what` after `seconds`. */
async function waitFor(what: () => string, ok: () => Promise<boolean>, seconds = 120): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`redrive bench: ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the letters a run held are back: at least `n` ready in the DLQ. */
async function lettersBack(n: number): Promise<void> {
  let now = 0;
  await withChannel((ch) =>
    waitFor(
      () => `${now} letters ready in ${dlq}, ${n} expected back`,
      async () => (now = await ready(ch, dlq)) >= n,
    ),
  );
}

/** The reference read: plain amqplib takes the first `n` letters unacknowledged, then gives them back. */
async function amqpHoldRead(n: number): Promise<number> {
  const conn = await connectRabbit(config, 'bench-reference-read');
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(0);
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      let seen = 0;
      void ch.consume(dlq, () => {
        if (++seen === n) resolve();
      });
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await ch.close();
    return seconds;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

function redriveCli(execute: boolean): Promise<Timed> {
  return timed(
    process.execPath,
    [bin, 'dlq', 'redrive', dlq, '--fix-url', fixUrl, ...(execute ? ['--execute'] : []), '--json'],
    { ORDERBUS_RABBITMQ_URL: config.rabbitmq.url, ORDERBUS_RABBITMQ_VHOST: vhost },
  );
}

export const redriveBench: Benchmark = {
  name: 'redrive',
  description: `\`orderbus dlq redrive --fix-url …\`, dry run then \`--execute\`, of ${REDRIVE_N.toLocaleString('en-US')} RabbitMQ dead letters while the same DLQ receives ${FEED_RATE} new ones a second (dead-lettered by the broker), against plain amqplib reading the same letters and publishing them with confirms`,
  runs: 3,
  async setup() {
    await ensureVhost(config, vhost);
  },
  async teardown() {
    await managementApi(config, `/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' });
  },
  async run(): Promise<Sample[]> {
    await withChannel(async (ch) => {
      for (const q of [target, dlq]) {
        await ch.assertQueue(q, { durable: true });
        await ch.purgeQueue(q);
      }
    });
    await seedDeadLetters(config, target, dlq, REDRIVE_N, `bench-${Date.now().toString(36)}`);
    const feeder = await DeadLetterFeeder.start(config, target, dlq, FEED_RATE);
    let fed: number | undefined;
    try {
      const dry = await redriveCli(false);
      const plan = countsOf(dry.stdout);
      const snap = plan.snapshot;
      expectCounts('the dry run planned other than its snapshot', plan, {
        selected: snap,
        toRedrive: snap,
        unchanged: 0,
        invalid: 0,
        redriven: 0,
      });
      await lettersBack(REDRIVE_N + feeder.fed - FEED_RATE);
      const readSeconds = await amqpHoldRead(plan.snapshot);
      await lettersBack(REDRIVE_N + feeder.fed - FEED_RATE);

      const exec = await redriveCli(true);
      const done = countsOf(exec.stdout);
      expectCounts('the execute did not redrive exactly its snapshot', done, {
        redriven: done.snapshot,
        failed: 0,
        invalid: 0,
        remaining: done.arrived,
      });
      const l = deadLetter(target, 'bench-reference-0000000000', 0);
      const body = Buffer.from(JSON.stringify({ ...l.task, url: `${NEW_URL}/orders` }));
      const reference = await amqpPublishConfirmLoop(config, `bench-ref-${runId}`, done.snapshot, body);

      fed = await feeder.stop();
      // Nothing lost, nothing doubled: every seeded and fed letter is in the target queue or the DLQ.
      const expected = REDRIVE_N + fed;
      let counted = { target: 0, dlq: 0 };
      await withChannel((ch) =>
        waitFor(
          () => `${counted.target} in ${target} + ${counted.dlq} in ${dlq}, ${expected} seeded and fed`,
          async () => {
            counted = { target: await ready(ch, target), dlq: await ready(ch, dlq) };
            return counted.target + counted.dlq === expected && counted.target === done.redriven;
          },
          60,
        ),
      );
      // The floor under a redrive: plain amqplib moving the redriven letters on, one by one.
      const shovel = await amqpShovel(config, target, `${target}.shovel`, done.redriven);
      const command = `orderbus dlq redrive ${dlq} --fix-url OLD=NEW`;
      return [
        {
          metric: `dlq redrive --execute, ${REDRIVE_N} letters + ${FEED_RATE}/s arriving (wall, edits + validation + confirm + ack)`,
          value: done.snapshot / exec.seconds,
          unit: 'msg/s',
          better: 'higher',
          reference: { name: 'amqplib publish + confirms loop, same count', value: reference },
          goal: '≥ 40 % of the reference',
          command: `${command} --execute --json`,
        },
        {
          metric:
            'plain amqplib shovel of the redriven letters (consume, publish + confirm, ack each; prefetch 500)',
          value: shovel,
          unit: 'msg/s',
          better: 'higher',
          reference: { name: 'amqplib publish + confirms loop, same count', value: reference },
          command: 'amqpShovel (test/bench/ops/dead-letter-feed.ts), in npm run bench -- redrive',
        },
        {
          ...peakRss('dlq redrive --execute', exec, `/usr/bin/time -f %M ${command} --execute --json`),
          goal: '≤ 250 MB',
        },
        {
          metric: `dlq redrive dry run, ${REDRIVE_N} letters + ${FEED_RATE}/s arriving (wall, node start-up included)`,
          value: dry.seconds,
          unit: 's',
          better: 'lower',
          reference: { name: 'amqplib consume of the same letters, unacked', value: readSeconds },
          goal: '< 30 s',
          command: `${command} --json`,
        },
        { ...peakRss('dlq redrive dry run', dry, `/usr/bin/time -f %M ${command} --json`), goal: '≤ 250 MB' },
        {
          metric: 'letters arrived during the execute, left in the DLQ for the next run (summary: arrived)',
          value: done.arrived,
          unit: 'letters',
          better: 'lower',
          command: `${command} --execute --json`,
        },
      ];
    } finally {
      if (fed === undefined) await feeder.stop().catch(() => undefined);
    }
  },
};

import { connectRabbit } from '../../../src/adapters/rabbitmq.js';
import type { OrderbusConfig } from '../../../src/config.js';
import type { TraceResult } from '../../../src/ops/trace.js';
import { TaskHeaders } from '../../../src/tasks/topology.js';
import type { Benchmark, Sample } from '../harness.js';
import { ensureOrderEvents, type TracedTopic } from './big-records.js';
import { deadLetter, ensureVhost, seedDeadLetters } from './dead-letter-feed.js';
import { bin, config, timed } from './timed.js';

/**
 * trace: `orderbus trace ORDER_ID --json` on an order.events-shaped topic of N records (12
 * partitions, 200-byte values, 20 h of record timestamps), the order's events in the middle of
 * its partition and its row in a database schema of its own — seeking by timestamp, against the
 * full scan of the partition (`--since` the topic's start), measured in the same run. The topic
 * and schema are built once and kept (big-records.ts; rebuilt when N changes): producing
 * 5,000,000 records takes minutes, tracing seconds.
 */

const N = Number(process.env.ORDERBUS_BENCH_TRACE_RECORDS ?? 5_000_000);
const PARTITIONS = 12;
let traced: TracedTopic | undefined;
const log = (line: string) => process.stderr.write(`  trace: ${line}\n`);

/** Without RabbitMQ: no dead-letter queue to search. */
const KAFKA_AND_DATABASE = { ORDERBUS_COMPONENTS: 'kafka,registry,postgres' };

/**
 * The target's RabbitMQ: a vhost of its own (kept between runs, like the topic) whose webhook DLQ
 * holds LETTERS dead letters, the traced order's the 101st — a DLQ as deep as the one that made
 * trace take 5.5 s on the shared broker (69,245 letters).
 */
const VHOST = 'orderbus-bench-trace';
const LETTERS = Number(process.env.ORDERBUS_BENCH_TRACE_LETTERS ?? 70_000);
const RABBIT_DLQ = 'webhook.tasks.dlq';
const rabbitUrl = (() => {
  const url = new URL(config.rabbitmq.url);
  url.pathname = `/${encodeURIComponent(VHOST)}`;
  return url.toString();
})();
const rabbitConfig: OrderbusConfig = {
  ...config,
  rabbitmq: { ...config.rabbitmq, url: rabbitUrl, vhost: VHOST },
};
const RABBIT_ENV = { ORDERBUS_RABBITMQ_URL: rabbitUrl, ORDERBUS_RABBITMQ_VHOST: VHOST };

/** The vhost and its DLQ of LETTERS + 1 letters (seeded again when the count differs). */
async function ensureRabbitLetters(orderId: string): Promise<void> {
  await ensureVhost(config, VHOST);
  const conn = await connectRabbit(rabbitConfig, 'bench-trace-seed');
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(RABBIT_DLQ, { durable: true });
    if ((await ch.checkQueue(RABBIT_DLQ)).messageCount === LETTERS + 1) {
      log(`reusing ${RABBIT_DLQ} in vhost ${VHOST} (${LETTERS + 1} letters)`);
      return;
    }
    await ch.purgeQueue(RABBIT_DLQ);
    await seedDeadLetters(rabbitConfig, 'webhook.tasks', RABBIT_DLQ, 100, 'bench-trace-a');
    const l = deadLetter('webhook.tasks', 'bench-trace-order', 0);
    ch.sendToQueue(RABBIT_DLQ, Buffer.from(JSON.stringify({ ...l.task, orderId })), {
      ...l.options,
      headers: { ...l.options.headers, [TaskHeaders.orderId]: orderId },
    });
    await ch.waitForConfirms();
    await seedDeadLetters(rabbitConfig, 'webhook.tasks', RABBIT_DLQ, LETTERS - 100, 'bench-trace-b');
    log(`seeded ${RABBIT_DLQ} in vhost ${VHOST} with ${LETTERS + 1} letters`);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function traceRun(args: string[], extra: Record<string, string> = {}) {
  if (!traced) throw new Error('trace: setup did not run');
  const { orderId, env, orderEvents } = traced;
  const r = await timed(process.execPath, [bin, 'trace', orderId, ...args, '--json'], { ...env, ...extra });
  const t = JSON.parse(r.stdout) as TraceResult;
  const found = t.entries.filter((e) => e.source === 'kafka').length;
  if (found !== orderEvents)
    throw new Error(`trace found ${found} of the order's ${orderEvents} events (${args.join(' ')})`);
  const search = t.deadLetterSearch?.find((d) => d.dlq === RABBIT_DLQ);
  return { seconds: r.seconds, records: t.scannedRecords, search, trace: t };
}

const FROM_START = ['--since', '2000-01-01T00:00:00Z'];

export const traceBench: Benchmark = {
  name: 'trace',
  description: `\`orderbus trace ORDER_ID --json\` on an order.events-shaped topic of ${N.toLocaleString('en-US')} records (${PARTITIONS} partitions, 20 h of timestamps; the order's row in the database; RabbitMQ with a webhook DLQ of ${LETTERS.toLocaleString('en-US')} letters in a vhost of its own), seeking its partition by timestamp, against reading the whole partition (\`--since\` the topic's start, what the previous trace did up to 2,000,000 records)`,
  runs: 3,
  async setup() {
    traced = await ensureOrderEvents(config, N, log);
    await ensureRabbitLetters(traced.orderId);
  },
  async run(): Promise<Sample[]> {
    const seek = await traceRun([], RABBIT_ENV);
    const full = await traceRun(FROM_START, RABBIT_ENV);
    const { search } = seek;
    if (!search) throw new Error(`trace did not report its search of ${RABBIT_DLQ}`);
    const letterFound = seek.trace.entries.some((e) => e.source === 'rabbitmq-dlq');
    if (!letterFound && search.searched > 100)
      throw new Error(
        `trace searched ${search.searched} letters of ${RABBIT_DLQ} and missed the order's 101st`,
      );
    const seekKafka = await traceRun([], KAFKA_AND_DATABASE);
    const fullKafka = await traceRun(FROM_START, KAFKA_AND_DATABASE);
    const { topic, schema, orderId } = traced ?? { topic: '', schema: '', orderId: '' };
    const command = `ORDERBUS_TOPIC_ORDER_EVENTS=${topic} ORDERBUS_DATABASE_SCHEMA=${schema} orderbus trace ${orderId} --json`;
    return [
      {
        metric: `trace, ${N} records in ${PARTITIONS} partitions, RabbitMQ with a DLQ of ${LETTERS + 1} letters (wall, node start-up included)`,
        value: seek.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: `the whole partition (${full.records} records)`, value: full.seconds * 1000 },
        goal: '< 3 s',
        command: `ORDERBUS_RABBITMQ_VHOST=${VHOST} ${command}  (reference: … --since 2000-01-01T00:00:00Z)`,
      },
      {
        metric: 'trace without RabbitMQ (Kafka, registry, database)',
        value: seekKafka.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'the whole partition, without RabbitMQ', value: fullKafka.seconds * 1000 },
        goal: '< 3 s',
        command: `ORDERBUS_COMPONENTS=kafka,registry,postgres ${command}`,
      },
      {
        metric: `dead letters trace read in a RabbitMQ DLQ of ${search.total} (the order's the 101st: found)`,
        value: search.searched,
        unit: 'letters',
        better: 'lower',
        reference: { name: 'the whole DLQ (what trace read before)', value: search.total },
        command: `ORDERBUS_RABBITMQ_VHOST=${VHOST} … trace --json (deadLetterSearch)`,
      },
      {
        metric: 'records read by trace',
        value: seek.records,
        unit: 'records',
        better: 'lower',
        reference: { name: 'the whole partition', value: full.records },
        command: 'same runs (JSON scannedRecords)',
      },
    ];
  },
};

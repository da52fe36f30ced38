import type { TraceResult } from '../../../src/ops/trace.js';
import type { Benchmark, Sample } from '../harness.js';
import { ensureOrderEvents, type TracedTopic } from './big-records.js';
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

/** Without RabbitMQ: its dead-letter queues are browsed whole, whatever Kafka costs. */
const KAFKA_AND_DATABASE = { ORDERBUS_COMPONENTS: 'kafka,registry,postgres' };

async function traceRun(args: string[], extra: Record<string, string> = {}) {
  if (!traced) throw new Error('trace: setup did not run');
  const { orderId, env, orderEvents } = traced;
  const r = await timed(process.execPath, [bin, 'trace', orderId, ...args, '--json'], { ...env, ...extra });
  const t = JSON.parse(r.stdout) as TraceResult;
  const found = t.entries.filter((e) => e.source === 'kafka').length;
  if (found !== orderEvents)
    throw new Error(`trace found ${found} of the order's ${orderEvents} events (${args.join(' ')})`);
  return { seconds: r.seconds, records: t.scannedRecords };
}

const FROM_START = ['--since', '2000-01-01T00:00:00Z'];

export const traceBench: Benchmark = {
  name: 'trace',
  description: `\`orderbus trace ORDER_ID --json\` on an order.events-shaped topic of ${N.toLocaleString('en-US')} records (${PARTITIONS} partitions, 20 h of timestamps; the order's row in the database), seeking its partition by timestamp, against reading the whole partition (\`--since\` the topic's start, what the previous trace did up to 2,000,000 records)`,
  runs: 3,
  async setup() {
    traced = await ensureOrderEvents(config, N, log);
  },
  async run(): Promise<Sample[]> {
    const seek = await traceRun([]);
    const full = await traceRun(FROM_START);
    const seekKafka = await traceRun([], KAFKA_AND_DATABASE);
    const fullKafka = await traceRun(FROM_START, KAFKA_AND_DATABASE);
    const { topic, schema, orderId } = traced ?? { topic: '', schema: '', orderId: '' };
    const command = `ORDERBUS_TOPIC_ORDER_EVENTS=${topic} ORDERBUS_DATABASE_SCHEMA=${schema} orderbus trace ${orderId} --json`;
    return [
      {
        metric: `trace, ${N} records in ${PARTITIONS} partitions (wall, node start-up included)`,
        value: seek.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: `the whole partition (${full.records} records)`, value: full.seconds * 1000 },
        goal: '< 3 s',
        command: `${command}  (reference: … --since 2000-01-01T00:00:00Z)`,
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

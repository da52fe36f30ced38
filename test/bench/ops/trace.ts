import type { Admin } from 'kafkajs';
import {
  connectAdmin,
  createTopicsAndWait,
  kafkaClient,
  partitionForKey,
} from '../../../src/adapters/kafka.js';
import { BatchProducer, type OutRecord } from '../../../src/adapters/kafka-produce.js';
import { createPool } from '../../../src/adapters/postgres.js';
import type { OrderbusConfig } from '../../../src/config.js';
import { migrate } from '../../../src/db/migrate.js';
import { EventCodec, eventHeaders, nextEvent } from '../../../src/events/codec.js';
import type { TraceResult } from '../../../src/ops/trace.js';
import type { Benchmark, Sample } from '../harness.js';
import { bin, config, timed } from './timed.js';

/**
 * trace: `orderbus trace ORDER_ID --json` on an order.events-shaped topic of N records (12
 * partitions, 200-byte values, 20 h of record timestamps), the order's events in the middle of
 * its partition and its row in a database schema of its own — seeking by timestamp, against the
 * full scan of the partition (`--since` the topic's start), measured in the same run. The topic
 * and schema are built once and kept (rebuilt when N changes): producing 5,000,000 records takes
 * minutes, tracing seconds.
 */

const N = Number(process.env.ORDERBUS_BENCH_TRACE_RECORDS ?? 5_000_000);
const PARTITIONS = 12;
const SPAN_MS = 20 * 3_600_000;
const topic = `bench-trace.order.events.${N}`;
const dlq = `${topic}.dlq`;
const schema = `bench_trace_${N}`;
/** The traced order: fixed per N, so a kept topic is found again. */
const orderId = `7ace0000-0000-4000-8000-${N.toString(16).padStart(12, '0')}`;
const orderPartition = partitionForKey(orderId, PARTITIONS);
/** Where the order's events sit, from the middle of its partition on. */
const ORDER_AT = [0, 1, 10, 100];

const benchConfig: OrderbusConfig = {
  ...config,
  topics: { ...config.topics, orderEvents: topic, orderEventsDlq: dlq },
  database: { ...config.database, schema },
};
const env = {
  ORDERBUS_TOPIC_ORDER_EVENTS: topic,
  ORDERBUS_TOPIC_ORDER_EVENTS_DLQ: dlq,
  ORDERBUS_DATABASE_SCHEMA: schema,
};

const perPartition = (p: number) => Math.floor(N / PARTITIONS) + (p < N % PARTITIONS ? 1 : 0);

async function built(admin: Admin): Promise<boolean> {
  if (!(await admin.listTopics()).includes(topic)) return false;
  const marks = await admin.fetchTopicOffsets(topic);
  if (marks.reduce((s, m) => s + Number(m.high), 0) !== N) return false;
  const pool = createPool(benchConfig, { max: 1 });
  try {
    const r = await pool.query('SELECT 1 FROM orders WHERE id = $1', [orderId]);
    return r.rowCount === 1;
  } catch {
    return false;
  } finally {
    await pool.end();
  }
}

/** The topic (N records, the order's four events among them) and the order's row. */
async function build(admin: Admin): Promise<void> {
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await createTopicsAndWait(admin, [
    {
      topic,
      numPartitions: PARTITIONS,
      replicationFactor: config.topics.replicationFactor,
      configEntries: [{ name: 'retention.ms', value: '-1' }],
    },
    { topic: dlq, numPartitions: 1, replicationFactor: config.topics.replicationFactor },
  ]);
  const base = Date.now() - SPAN_MS - 3_600_000;
  const codec = EventCodec.fromConfig(benchConfig, topic);
  const order = { eventId: orderId, orderId, correlationId: orderId };
  const mid = Math.floor(perPartition(orderPartition) / 2);
  const stampOf = (p: number, i: number) => base + Math.floor((i * SPAN_MS) / perPartition(p));
  const mine = new Map<number, OutRecord>();
  const types = ['payment.captured', 'payment.refunded', 'payment.captured', 'payment.refunded'] as const;
  for (const [k, d] of ORDER_AT.entries()) {
    const e =
      types[k] === 'payment.refunded'
        ? nextEvent(order, 'payment.refunded', 'bench', { refundId: `rf-${k}`, amountCents: 1200 })
        : nextEvent(order, 'payment.captured', 'bench', { chargeId: `ch-${k}`, amountCents: 1200 });
    mine.set(mid + d, {
      key: Buffer.from(orderId),
      value: await codec.encode(e),
      timestamp: stampOf(orderPartition, mid + d),
      headers: Object.entries(eventHeaders(e)),
    });
  }
  const keys = Array.from({ length: 4096 }, (_, i) =>
    Buffer.from(`0b6c1c52-8f0e-4f57-9a47-${i.toString(16).padStart(12, '0')}`),
  );
  const value = Buffer.alloc(200, 'v');
  const headers = [['event-type', 'order.placed']] as const;
  const producer = new BatchProducer(kafkaClient(config, `bench-trace-build-${N}`));
  const t0 = Date.now();
  let done = 0;
  const fill = async (p: number) => {
    const n = perPartition(p);
    for (let from = 0; from < n; from += 3000) {
      const batch: OutRecord[] = [];
      for (let i = from; i < Math.min(n, from + 3000); i++)
        batch.push(
          (p === orderPartition ? mine.get(i) : undefined) ?? {
            key: keys[i % keys.length] ?? null,
            value,
            timestamp: stampOf(p, i),
            headers,
          },
        );
      await producer.send(topic, p, batch);
      done += batch.length;
      if (done % 300_000 < 3000)
        process.stderr.write(
          `  trace: built ${done} of ${N} records (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
        );
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < PARTITIONS) await fill(next++);
    }),
  );
  await producer.close();
  const admPool = createPool(config, { max: 1 });
  await migrate(admPool, schema);
  await admPool.end();
  const pool = createPool(benchConfig, { max: 1 });
  const placed = new Date(stampOf(orderPartition, mid));
  const last = new Date(stampOf(orderPartition, mid + (ORDER_AT.at(-1) ?? 0)));
  await pool.query('DELETE FROM outbox WHERE order_id = $1', [orderId]);
  await pool.query('DELETE FROM orders WHERE id = $1', [orderId]);
  await pool.query(
    `INSERT INTO orders (id, customer_id, email, status, total_cents, items, shipping_address, payment_method, correlation_id, created_at, updated_at)
     VALUES ($1, 'bench', 'bench@example.com', 'refunded', 1200, '[]', '{}', '{}', $1, $2, $3)`,
    [orderId, placed, last],
  );
  await pool.query(
    `INSERT INTO outbox (shard, event_id, order_id, type, envelope, created_at, sent_at)
     VALUES (0, gen_random_uuid(), $1, 'payment.captured', '{}', $2, $2), (0, gen_random_uuid(), $1, 'payment.refunded', '{}', $3, $3)`,
    [orderId, placed, last],
  );
  await pool.end();
  process.stderr.write(`  trace: built ${N} records in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

/** Without RabbitMQ: its dead-letter queues are browsed whole, whatever Kafka costs. */
const KAFKA_AND_DATABASE = { ORDERBUS_COMPONENTS: 'kafka,registry,postgres' };

async function traceRun(args: string[], extra: Record<string, string> = {}) {
  const r = await timed(process.execPath, [bin, 'trace', orderId, ...args, '--json'], { ...env, ...extra });
  const t = JSON.parse(r.stdout) as TraceResult;
  const found = t.entries.filter((e) => e.source === 'kafka').length;
  if (found !== ORDER_AT.length)
    throw new Error(`trace found ${found} of the order's ${ORDER_AT.length} events (${args.join(' ')})`);
  return { seconds: r.seconds, records: t.scannedRecords };
}

const FROM_START = ['--since', '2000-01-01T00:00:00Z'];

export const traceBench: Benchmark = {
  name: 'trace',
  description: `\`orderbus trace ORDER_ID --json\` on an order.events-shaped topic of ${N.toLocaleString('en-US')} records (${PARTITIONS} partitions, 20 h of timestamps; the order's row in the database), seeking its partition by timestamp, against reading the whole partition (\`--since\` the topic's start, what the previous trace did up to 2,000,000 records)`,
  runs: 3,
  async setup() {
    const admin = await connectAdmin(config);
    try {
      if (await built(admin)) process.stderr.write(`  trace: reusing ${topic} and schema ${schema}\n`);
      else await build(admin);
    } finally {
      await admin.disconnect();
    }
  },
  async run(): Promise<Sample[]> {
    const seek = await traceRun([]);
    const full = await traceRun(FROM_START);
    const seekKafka = await traceRun([], KAFKA_AND_DATABASE);
    const fullKafka = await traceRun(FROM_START, KAFKA_AND_DATABASE);
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

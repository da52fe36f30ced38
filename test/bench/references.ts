import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { OrderbusConfig } from '../../src/config.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { kafkaToolArgs } from '../support/kafka-tools.js';

const execFileAsync = promisify(execFile);

/** Runs one of Kafka's own tools (org.apache.kafka.tools.NAME) and returns its stdout. */
async function kafkaTool(config: OrderbusConfig, name: string, args: string[]): Promise<string> {
  const java = await kafkaToolArgs(config, `org.apache.kafka.tools.${name}`, args, ['-Xmx512m']);
  const { stdout } = await execFileAsync('java', java, {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 20 * 60 * 1000,
  });
  return stdout;
}

/** Kafka's own ProducerPerformance: records/s for `records` records of `size` bytes, acks=all. */
export async function kafkaProducerPerformance(
  config: OrderbusConfig,
  topic: string,
  records: number,
  size = 200,
): Promise<number> {
  const stdout = await kafkaTool(config, 'ProducerPerformance', [
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(size),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${config.kafka.brokers.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
  ]);
  // "1000000 records sent, 123456.7 records/sec (23.55 MB/sec), …" is the last summary line.
  const m = /records sent, ([\d.]+) records\/sec/.exec(stdout.trim().split('\n').pop() ?? '');
  if (!m) throw new Error(`could not parse ProducerPerformance output: ${stdout.slice(-300)}`);
  return Number(m[1]);
}

/** Kafka's own ConsumerPerformance: records/s reading `records` records from the topic start. */
export async function kafkaConsumerPerformance(
  config: OrderbusConfig,
  topic: string,
  records: number,
): Promise<number> {
  const stdout = await kafkaTool(config, 'ConsumerPerformance', [
    '--bootstrap-server',
    config.kafka.brokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(records),
    '--group',
    `bench-cp-${Date.now()}`,
  ]);
  // Header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, …
  const lines = stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  const cols = lines[header]?.split(',').map((s) => s.trim()) ?? [];
  const row = lines[header + 1]?.split(',').map((s) => s.trim()) ?? [];
  const i = cols.indexOf('nMsg.sec');
  if (i < 0 || row[i] === undefined)
    throw new Error(`could not parse ConsumerPerformance output: ${stdout.slice(-300)}`);
  return Number(row[i]);
}

/** A plain amqplib publish-with-confirms loop: messages/s, confirms awaited per batch. */
export async function amqpPublishConfirmLoop(
  config: OrderbusConfig,
  queue: string,
  messages: number,
  body: Buffer,
  batch = 500,
): Promise<number> {
  const conn = await connectRabbit(config, 'bench-reference');
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    ch.sendToQueue(queue, body, { persistent: true });
    if ((i + 1) % batch === 0) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await ch.deleteQueue(queue);
  await conn.close();
  return messages / seconds;
}

import type { OrderbusConfig } from '../../../src/config.js';
import type { DlqMessage, DlqSummary } from '../../../src/ops/dlq/index.js';
import { kafkaToolArgs } from '../../support/kafka-tools.js';
import type { Benchmark, Sample } from '../harness.js';
import { ensureBigDlq } from './big-records.js';
import { bin, config, peakRss, timed } from './timed.js';

/**
 * dlq-scale: `orderbus dlq show` (the first page) and `orderbus dlq list` of a Kafka DLQ of
 * 1,000,000 dead letters (big-records.ts, kept between runs), each beside Apache's own tool
 * doing the least that answer needs, in the same run: kafka-console-consumer reading the same 20
 * records, and GetOffsetShell reading the partitions' offsets (the count `dlq list` starts from).
 * Both sides are whole processes (node's or the JVM's start-up included), as an operator runs them.
 */

const PAGE = 20;

const log = (line: string) => process.stderr.write(`  dlq-scale: ${line}\n`);

/** Apache's tool `mainClass` against `target`'s brokers, timed. */
async function apacheTool(target: OrderbusConfig, mainClass: string, args: string[]) {
  const java = await kafkaToolArgs(
    target,
    mainClass,
    ['--bootstrap-server', target.kafka.brokers.join(','), ...args],
    ['-Xmx256m'],
  );
  return timed('java', java);
}

/**
 * The figures on `topic` of the cluster `target` names (`env`: the ORDERBUS_* settings that point
 * orderbus at it; none for the local stack). The big-cluster benchmark calls this too.
 */
export async function dlqScaleSamples(
  target: OrderbusConfig,
  topic: string,
  records: number,
  env: Record<string, string> = {},
): Promise<Sample[]> {
  const cli = (args: string[]) => timed(process.execPath, [bin, ...args], env);
  const show = await cli(['dlq', 'show', topic, '--limit', String(PAGE), '--json']);
  const page = JSON.parse(show.stdout) as DlqMessage[];
  if (page.length !== PAGE || page[0]?.id !== '0:0')
    throw new Error(
      `dlq show returned ${page.length} letters from ${page[0]?.id ?? '-'} (${PAGE} from 0:0 expected)`,
    );
  const consumer = await apacheTool(target, 'org.apache.kafka.tools.consumer.ConsoleConsumer', [
    ...['--topic', topic, '--partition', '0', '--offset', '0', '--max-messages', String(PAGE)],
    ...['--property', 'print.headers=true', '--property', 'print.key=true'],
  ]);
  if (consumer.stdout.trim().split('\n').length < PAGE)
    throw new Error(`kafka-console-consumer printed fewer than ${PAGE} records`);
  const list = await cli(['dlq', 'list', '--json']);
  const mine = (JSON.parse(list.stdout) as DlqSummary[]).find((d) => d.name === topic);
  if (mine?.count !== records)
    throw new Error(`dlq list counted ${mine?.count ?? 'nothing'} in ${topic}, ${records} expected`);
  const offsets = await apacheTool(target, 'org.apache.kafka.tools.GetOffsetShell', ['--topic', topic]);
  const command = (args: string) =>
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v} `)
      .join('')}orderbus ${args}`;
  return [
    {
      metric: `dlq show, first page of ${PAGE} of ${records.toLocaleString('en-US')} dead letters (wall, node start-up included)`,
      value: show.seconds * 1000,
      unit: 'ms',
      better: 'lower',
      reference: { name: `kafka-console-consumer, the same ${PAGE} records`, value: consumer.seconds * 1000 },
      goal: '< 1 s',
      command: `${command(`dlq show ${topic} --limit ${PAGE} --json`)}  (reference: kafka-console-consumer --partition 0 --offset 0 --max-messages ${PAGE})`,
    },
    {
      metric: `dlq list, a DLQ of ${records.toLocaleString('en-US')} among the target's DLQs (wall; failure classes from a sample of ${mine.scanned})`,
      value: list.seconds * 1000,
      unit: 'ms',
      better: 'lower',
      reference: { name: 'GetOffsetShell, the DLQ topic only (its count)', value: offsets.seconds * 1000 },
      goal: '< 2 s',
      command: `${command('dlq list --json')}  (reference: kafka-get-offsets --topic ${topic})`,
    },
    peakRss(`dlq show, ${records} dead letters`, show, command(`dlq show ${topic} --json`)),
    peakRss(`dlq list, ${records} dead letters`, list, command('dlq list --json')),
  ];
}

let topic = '';
let records = 0;

export const dlqScaleBench: Benchmark = {
  name: 'dlq-scale',
  description:
    "`orderbus dlq show` (first page) and `orderbus dlq list` of a Kafka DLQ of 1,000,000 dead letters in the pipeline's format, against Apache kafka-console-consumer reading the same page and GetOffsetShell reading its offsets, in the same run",
  runs: 3,
  async setup() {
    ({ topic, records } = await ensureBigDlq(config, log));
  },
  run: () => dlqScaleSamples(config, topic, records),
};

import { spawn } from 'node:child_process';
import { kafkaToolArgs } from '../../support/kafka-tools.js';
import { median, type Benchmark, type Sample } from '../harness.js';
import {
  BIG_GROUPS,
  BIG_PARTITIONS,
  BIG_REPLICATION,
  BIG_TOPICS,
  openBigCluster,
  type BigCluster,
} from './big-cluster.js';
import {
  BAND_MS,
  measureConsole,
  measureLagWatch,
  SETTLED_MS,
  type WatchFigures,
} from './big-cluster-watch.js';
import { bin, exec, peakRss, type Timed } from './timed.js';

/**
 * big-cluster: the operations commands over 1,000 groups and 10,000 partitions on a private
 * 3-broker Kafka (big-cluster.ts builds it once and keeps it): `lag` against Apache's
 * kafka-consumer-groups, `lag --watch` and the console over minutes, and a `metrics` scrape.
 */
const WATCH_MINUTES = Number(process.env.ORDERBUS_BENCH_WATCH_MINUTES ?? 30);
const WARMUP_MS = 30_000;
const METRICS_PORT = 19464;
const SCRAPES = 5;

let cluster: (BigCluster & { close(): Promise<void> }) | undefined;
const log = (line: string) => process.stderr.write(`  ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CpuTimed extends Timed {
  /** user + system CPU seconds (GNU time). */
  cpuSeconds: number;
}

/** A command's wall time, peak RSS and CPU time (GNU time). */
async function timedCpu(cmd: string, args: string[], env: Record<string, string> = {}): Promise<CpuTimed> {
  const t0 = process.hrtime.bigint();
  const { stdout, stderr } = await exec('/usr/bin/time', ['-f', 'RSSKB=%M CPU=%U+%S', cmd, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 256 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = /RSSKB=(\d+)/.exec(stderr);
  const cpu = /CPU=([\d.]+)\+([\d.]+)/.exec(stderr);
  return {
    seconds,
    maxRssMb: rss ? Number(rss[1]) / 1024 : null,
    cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN,
    stdout,
  };
}

function orderbus(args: string[]): Promise<CpuTimed> {
  if (!cluster) throw new Error('big-cluster fixture not open');
  return timedCpu(process.execPath, [bin, ...args], cluster.env);
}

/** One `orderbus lag --json --sample 0` over every group; checks it saw every group. */
async function lagAll(): Promise<CpuTimed> {
  const run = await orderbus(['lag', '--json', '--sample', '0']);
  const report = JSON.parse(run.stdout) as { groups: { group: string; partitions: unknown[] }[] };
  const big = report.groups.filter((g) => g.group.startsWith('big-g'));
  if (big.length !== BIG_GROUPS || big.some((g) => g.partitions.length !== BIG_PARTITIONS))
    throw new Error(`lag saw ${big.length} of the ${BIG_GROUPS} fixture groups`);
  return run;
}

/** Apache's `kafka-consumer-groups --describe --all-groups` against the private cluster. */
async function apacheAllGroups(): Promise<CpuTimed> {
  if (!cluster) throw new Error('big-cluster fixture not open');
  const args = await kafkaToolArgs(
    cluster.config,
    'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
    [...['--bootstrap-server', cluster.config.kafka.brokers.join(','), '--describe', '--all-groups']],
  );
  const run = await timedCpu('java', args);
  const rows = run.stdout.split('\n').filter((l) => l.startsWith('big-g')).length;
  if (rows < BIG_GROUPS * BIG_PARTITIONS)
    throw new Error(
      `kafka-consumer-groups printed ${rows} fixture rows, expected ${BIG_GROUPS * BIG_PARTITIONS}`,
    );
  return run;
}

/** Seconds between the exporter's samples in the benchmark. */
const METRICS_INTERVAL = 5;

/**
 * Scrapes `orderbus metrics` SCRAPES times: each scrape's wall time and series count, and the
 * duration of each distinct sample the scrapes were served (orderbus_sample_duration_seconds).
 */
async function scrapeMetrics(): Promise<{ seconds: number[]; series: number[]; samples: number[] }> {
  if (!cluster) throw new Error('big-cluster fixture not open');
  const args = ['metrics', '--listen', `127.0.0.1:${METRICS_PORT}`, '--interval', String(METRICS_INTERVAL)];
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...cluster.env },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const url = `http://127.0.0.1:${METRICS_PORT}/metrics`;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(url, { method: 'HEAD' }).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (i > 100 || child.exitCode !== null) throw new Error('orderbus metrics did not start');
      await sleep(200);
    }
    const seconds: number[] = [];
    const series: number[] = [];
    const samples = new Map<string, number>();
    for (let i = 0; i < SCRAPES + 1; i++) {
      const t0 = process.hrtime.bigint();
      const text = await (await fetch(url)).text();
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      // The first scrape waits for the first sample; the rest are what Prometheus sees every interval.
      if (i === 0) continue;
      seconds.push(s);
      // Not the age line: the served text is otherwise the same until the next sample.
      const lines = text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
      series.push(lines.filter((l) => !l.startsWith('orderbus_sample_age_seconds')).length);
      // One sample's duration (a float) is its name: the same value is the same sample served again.
      const took = /^orderbus_sample_duration_seconds (\S+)$/m.exec(text)?.[1];
      if (took) samples.set(took, Number(took));
      await sleep(2000);
    }
    return { seconds, series, samples: [...samples.values()] };
  } finally {
    child.kill('SIGINT');
  }
}

function watchFigures(what: string, command: string, w: WatchFigures, apacheCpu: number): Sample[] {
  return [
    {
      metric: `${what}: average CPU over ${WATCH_MINUTES} min of 2 s refreshes`,
      value: w.cpuPercent,
      unit: '% of a core',
      better: 'lower',
      reference: {
        name: 'kafka-consumer-groups --describe --all-groups every 2 s (its CPU time / 2 s)',
        value: apacheCpu,
      },
      goal: '≤ 25 % of a core',
      command,
    },
    ...(w.rssBand === null
      ? []
      : [
          {
            metric: `${what}: RSS, median of the last ${BAND_MS / 60_000} min of ${WATCH_MINUTES}`,
            value: w.rssBand.lateMb,
            unit: 'MB',
            better: 'lower' as const,
            reference: {
              name: `median of minutes ${SETTLED_MS / 60_000}–${(SETTLED_MS + BAND_MS) / 60_000}`,
              value: w.rssBand.earlyMb,
            },
            goal: 'flat: within ±10 % (ratio 91–110 %)',
            command: `${command}; /proc/PID/status VmRSS every 5 s (last ${BAND_MS / 60_000} min: ${w.rssBand.lateMinMb.toFixed(0)}–${w.rssBand.lateMaxMb.toFixed(0)} MB)`,
          },
        ]),
    {
      metric: `${what}: RSS after ${WATCH_MINUTES} min (one reading)`,
      value: w.rssEndMb,
      unit: 'MB',
      better: 'lower',
      reference: { name: 'RSS after a 30 s warm-up', value: w.rssAfterWarmupMb },
      goal: 'informational: two point readings, each anywhere in the swing between major GCs',
      command: `${command}; /proc/PID/status VmRSS every 5 s (min ${w.rssMinMb.toFixed(0)}, max ${w.rssMaxMb.toFixed(0)} MB)`,
    },
    ...(w.rssSettledMb === null
      ? []
      : [
          {
            metric: `${what}: RSS after ${WATCH_MINUTES} min, against minute ${SETTLED_MS / 60_000}`,
            value: w.rssEndMb,
            unit: 'MB',
            better: 'lower' as const,
            reference: { name: `RSS ${SETTLED_MS / 60_000} min into the span`, value: w.rssSettledMb },
            goal: 'informational: growth once the heap has sized itself (a leak keeps growing)',
            command: 'same run',
          },
        ]),
  ];
}

export const bigClusterBench: Benchmark = {
  name: 'big-cluster',
  description: `The operations commands over a big cluster: a private 3-broker Kafka (kept between runs in the stack's data dir, bench-big-cluster) with ${BIG_TOPICS} topics x ${BIG_PARTITIONS} partitions (10,000 partitions, replication factor ${BIG_REPLICATION}: RF 3 would put all 10,000 replicas on every broker of this 2-core machine — 10,000 open segment files of the 20,000 \`ulimit -n\` and 20,000 index maps per JVM, and 6,667 follower replicas fetching per broker — while the commands measured read leaders and coordinators only), ${BIG_GROUPS} consumer groups with committed offsets at lag 0–40 (each on one topic: ${BIG_GROUPS * BIG_PARTITIONS} group partitions), a Kafka DLQ of 1,000,000 records and an order.events of 5,000,000. \`lag --watch\` and the console are watched for ${WATCH_MINUTES} min (ORDERBUS_BENCH_WATCH_MINUTES)`,
  runs: 1,
  async setup() {
    cluster = await openBigCluster(log);
  },
  async teardown() {
    await cluster?.close();
    cluster = undefined;
  },
  async run(): Promise<Sample[]> {
    // Alternate ours and Apache's three times each; the medians are the figures.
    const ours: CpuTimed[] = [];
    const apache: CpuTimed[] = [];
    for (let i = 0; i < 3; i++) {
      ours.push(await lagAll());
      apache.push(await apacheAllGroups());
    }
    const help = await orderbus(['--help']);
    const mid = (runs: CpuTimed[]) => runs.slice().sort((a, b) => a.seconds - b.seconds)[1] as CpuTimed;
    const lag = mid(ours);
    const ref = mid(apache);
    // What Apache's tool would cost an operator refreshing it every 2 s: its CPU time per run / 2 s.
    const apacheCpu = (median(apache.map((r) => r.cpuSeconds)) / 2) * 100;
    const metrics = await scrapeMetrics();
    const span = WATCH_MINUTES * 60_000;
    const [watchRun, consoleRun] = await Promise.all([
      measureLagWatch(cluster?.env ?? {}, WARMUP_MS, span),
      measureConsole(cluster?.env ?? {}, WARMUP_MS, span),
    ]);
    const lagCmd = 'orderbus lag --json --sample 0 (all groups)';
    return [
      {
        metric: `lag over all ${BIG_GROUPS} groups x ${BIG_PARTITIONS} partitions (wall, node start-up included; median of 3)`,
        value: lag.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: {
          name: 'kafka-consumer-groups --describe --all-groups (median of 3, alternated)',
          value: ref.seconds * 1000,
        },
        goal: '≤ 2 s and ≥ 3x faster than the reference (ratio ≥ 300 %)',
        command: lagCmd,
      },
      {
        ...peakRss(`orderbus lag over ${BIG_GROUPS} groups`, lag, `/usr/bin/time -f %M ${lagCmd}`, {
          name: 'orderbus --help',
          run: help,
        }),
        goal: '≤ 250 MB',
      },
      {
        metric: `CPU time of orderbus lag over ${BIG_GROUPS} groups (user + system)`,
        value: lag.cpuSeconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'kafka-consumer-groups --describe --all-groups', value: ref.cpuSeconds * 1000 },
        command: `/usr/bin/time -f %U+%S ${lagCmd}`,
      },
      ...watchFigures(
        'orderbus lag --watch 2 (output to /dev/null)',
        'orderbus lag --watch 2 > /dev/null',
        watchRun,
        apacheCpu,
      ),
      ...watchFigures(
        'orderbus console --refresh 2 (tmux 120x40)',
        'orderbus console --refresh 2',
        consoleRun,
        apacheCpu,
      ),
      {
        metric: `orderbus metrics scrape over ${BIG_GROUPS} groups (median of ${SCRAPES}, after a first scrape)`,
        value: median(metrics.seconds) * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'orderbus lag --json --sample 0, same cluster', value: lag.seconds * 1000 },
        goal: '≤ 1 s',
        command: `orderbus metrics --listen 127.0.0.1:${METRICS_PORT} --interval ${METRICS_INTERVAL}; GET /metrics every 2 s`,
      },
      {
        metric: `orderbus metrics: one background sample over ${BIG_GROUPS} groups (median of ${metrics.samples.length}, orderbus_sample_duration_seconds)`,
        value: median(metrics.samples) * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'orderbus lag --json --sample 0, same cluster', value: lag.seconds * 1000 },
        goal: `what a scrape no longer waits for; every ${METRICS_INTERVAL} s`,
        command: 'same scrapes: orderbus_sample_duration_seconds of each distinct sample served',
      },
      {
        metric: 'orderbus metrics: series per scrape (last scrape)',
        value: metrics.series.at(-1) ?? Number.NaN,
        unit: 'series',
        better: 'lower',
        reference: { name: 'series in the first measured scrape', value: metrics.series[0] ?? Number.NaN },
        goal: `stable (ratio 100 %); counts: ${metrics.series.join(', ')}`,
        command: 'same scrapes: lines of the exposition that are not comments',
      },
    ];
  },
};

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import { connectRabbit } from '../../src/adapters/rabbitmq.js';
import { ensureKafkaJars } from '../../src/devstack/stack/artifacts.js';
import { projectRoot } from '../../src/paths.js';
import { TaskHeaders } from '../../src/tasks/topology.js';
import type { Benchmark, Sample } from './harness.js';
import { amqpPublishConfirmLoop, kafkaConsumerPerformance, kafkaProducerPerformance } from './references.js';

/**
 * Benchmarks of the ops commands, each run as an operator runs it (the compiled CLI, node
 * start-up included) beside a reference measured in the same run.
 */
const exec = promisify(execFile);
const config = loadConfig();
const bin = join(projectRoot(), 'bin', 'orderbus');
const id = `${process.pid}-${Date.now().toString(36)}`;

interface Timed {
  seconds: number;
  maxRssMb: number | null;
  stdout: string;
}

/** Runs a command, returning wall time and peak RSS (GNU time, when installed). */
async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Timed> {
  const gnuTime = existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const { stdout, stderr } = await exec(
    gnuTime ? '/usr/bin/time' : cmd,
    gnuTime ? ['-f', 'RSSKB=%M', cmd, ...args] : args,
    {
      env: { ...process.env, NO_COLOR: '1', ...env },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 30 * 60 * 1000,
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /RSSKB=(\d+)/.exec(stderr);
  return { seconds, maxRssMb: m ? Number(m[1]) / 1024 : null, stdout };
}

// ------------------------------------------------------------------ lag

const lagTopic = `bench-lag-${id}`;
const groupName = (i: number) => `bench-lag-${id}-g${i}`;

const lagBench: Benchmark = {
  name: 'lag',
  description:
    '`orderbus lag --json --sample 0` over 50 and 200 consumer groups x 12 partitions (time lag included), against Apache kafka-consumer-groups --describe of the same 50 groups',
  runs: 5,
  async setup() {
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [{ topic: lagTopic, numPartitions: 12, replicationFactor: 1 }]);
    const kafka = (await import('../../src/adapters/kafka.js')).kafkaClient(config, 'bench-lag');
    const producer = kafka.producer();
    await producer.connect();
    for (let p = 0; p < 12; p++)
      await producer.send({
        topic: lagTopic,
        acks: -1,
        messages: Array.from({ length: 200 }, (_, i) => ({ partition: p, value: `r${i}` })),
      });
    await producer.disconnect();
    // Committing offsets creates the groups; ten at a time.
    const pending = Array.from({ length: 200 }, (_, g) => g);
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let g = pending.shift(); g !== undefined; g = pending.shift())
          await admin.setOffsets({
            groupId: groupName(g),
            topic: lagTopic,
            partitions: Array.from({ length: 12 }, (_, p) => ({
              partition: p,
              offset: String((g * 7 + p) % 200),
            })),
          });
      }),
    );
    await admin.disconnect();
  },
  async teardown() {
    const admin = await connectAdmin(config);
    await admin.deleteGroups(Array.from({ length: 200 }, (_, g) => groupName(g))).catch(() => undefined);
    await admin.deleteTopics({ topics: [lagTopic] }).catch(() => undefined);
    await admin.disconnect();
  },
  async run(): Promise<Sample[]> {
    const groups = (n: number) => Array.from({ length: n }, (_, g) => ['--group', groupName(g)]).flat();
    const fifty = await timed(process.execPath, [bin, 'lag', ...groups(50), '--sample', '0', '--json']);
    const parsed = JSON.parse(fifty.stdout) as { groups: { partitions: unknown[] }[] };
    if (parsed.groups.length !== 50 || parsed.groups.some((g) => g.partitions.length !== 12))
      throw new Error('lag did not return 50 groups x 12 partitions');
    const all = await timed(process.execPath, [bin, 'lag', ...groups(200), '--sample', '0', '--json']);
    const libs = await ensureKafkaJars(config.stack.kafkaVersion, () => undefined);
    const apache = await timed('java', [
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
      '--bootstrap-server',
      config.kafka.brokers.join(','),
      '--describe',
      ...groups(50),
    ]);
    const help = await timed(process.execPath, [bin, '--help']);
    const cmd = 'orderbus lag --group G1 … --group G50 --sample 0 --json';
    return [
      {
        metric: 'lag, 50 groups x 12 partitions (wall, node start-up included)',
        value: fifty.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'kafka-consumer-groups --describe, same 50 groups', value: apache.seconds * 1000 },
        goal: 'well under 1 s',
        command: cmd,
      },
      {
        metric: 'lag, 50 groups: time beyond node start-up (orderbus --help)',
        value: (fifty.seconds - help.seconds) * 1000,
        unit: 'ms',
        better: 'lower',
        command: cmd,
      },
      {
        metric: 'lag, 200 groups x 12 partitions (wall)',
        value: all.seconds * 1000,
        unit: 'ms',
        better: 'lower',
        reference: { name: 'lag, 50 groups (cost growth: 4x the groups)', value: fifty.seconds * 1000 },
        command: 'orderbus lag --group G1 … --group G200 --sample 0 --json',
      },
      {
        metric: 'peak RSS of orderbus lag, 200 groups',
        value: all.maxRssMb ?? Number.NaN,
        unit: 'MB',
        better: 'lower',
        reference: { name: 'orderbus --help', value: help.maxRssMb ?? Number.NaN },
        command: '/usr/bin/time -f %M orderbus lag … (200 groups)',
      },
    ];
  },
};

// ------------------------------------------------------------------ redrive

const REDRIVE_N = Number(process.env.ORDERBUS_BENCH_REDRIVE ?? 50_000);
const target = `bench-redrive-${id}.tasks`;
const dlq = `${target}.dlq`;

async function fillDlq(n: number): Promise<void> {
  const conn = await connectRabbit(config, 'bench-fill');
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(target, { durable: true });
  await ch.assertQueue(dlq, { durable: true });
  for (let i = 0; i < n; i++) {
    const task = {
      kind: 'webhook',
      taskId: `bench-${i}`,
      orderId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      url: 'http://127.0.0.1:8094/hooks/v1/orders',
      payload: { event: 'order.paid', orderId: `o-${i}` },
    };
    ch.sendToQueue(dlq, Buffer.from(JSON.stringify(task)), {
      persistent: true,
      headers: {
        [TaskHeaders.taskId]: task.taskId,
        [TaskHeaders.originalExchange]: '',
        [TaskHeaders.originalRoutingKey]: target,
        [TaskHeaders.errorClass]: 'HttpGone',
        [TaskHeaders.statusCode]: 410,
        [TaskHeaders.attempt]: 1,
      },
    });
    if ((i + 1) % 1000 === 0) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await ch.purgeQueue(target);
  await conn.close();
}

const redriveBench: Benchmark = {
  name: 'redrive',
  description: `\`orderbus dlq redrive --fix-url … --execute\` of ${REDRIVE_N.toLocaleString('en-US')} RabbitMQ dead letters with publisher confirms, against a plain amqplib publish-with-confirms loop`,
  runs: 3,
  async teardown() {
    const conn = await connectRabbit(config, 'bench-clean');
    const ch = await conn.createChannel();
    await ch.deleteQueue(target).catch(() => undefined);
    await ch.deleteQueue(dlq).catch(() => undefined);
    await conn.close().catch(() => undefined);
  },
  async run(): Promise<Sample[]> {
    await fillDlq(REDRIVE_N);
    const r = await timed(process.execPath, [
      bin,
      'dlq',
      'redrive',
      dlq,
      '--fix-url',
      'http://127.0.0.1:8094/hooks/v1=http://127.0.0.1:8094/hooks/v2',
      '--execute',
      '--json',
    ]);
    const result = JSON.parse(r.stdout) as { redriven: number; remaining: number };
    if (result.redriven !== REDRIVE_N || result.remaining !== 0)
      throw new Error(`redrive moved ${result.redriven} of ${REDRIVE_N}, ${result.remaining} left`);
    const body = Buffer.from(
      JSON.stringify({
        kind: 'webhook',
        taskId: 'x'.repeat(20),
        url: 'http://127.0.0.1:8094/hooks/v2/orders',
      }),
    );
    const reference = await amqpPublishConfirmLoop(config, `bench-ref-${id}`, REDRIVE_N, body);
    const conn = await connectRabbit(config, 'bench-clean');
    const ch = await conn.createChannel();
    await ch.purgeQueue(target);
    await conn.close();
    return [
      {
        metric: `dlq redrive --execute, ${REDRIVE_N} messages (wall, edits + validation + confirm + ack)`,
        value: REDRIVE_N / r.seconds,
        unit: 'msg/s',
        better: 'higher',
        reference: { name: 'amqplib publish + confirms loop', value: reference },
        goal: '≥ 25 % of the reference',
        command: `orderbus dlq redrive ${dlq} --fix-url OLD=NEW --execute --json`,
      },
      {
        metric: 'peak RSS of dlq redrive',
        value: r.maxRssMb ?? Number.NaN,
        unit: 'MB',
        better: 'lower',
        command: '/usr/bin/time -f %M orderbus dlq redrive …',
      },
    ];
  },
};

// ------------------------------------------------------------------ replay

const REPLAY_N = Number(process.env.ORDERBUS_BENCH_REPLAY ?? 1_000_000);
let replayRun = 0;
const replayTopics: string[] = [];

const replayBench: Benchmark = {
  name: 'replay',
  description: `\`orderbus replay --to-topic --execute\` of ${REPLAY_N.toLocaleString('en-US')} records of 200 bytes (12 partitions), against Kafka's ProducerPerformance (acks=all, idempotent) and ConsumerPerformance on the same data`,
  runs: 3,
  async teardown() {
    const admin = await connectAdmin(config);
    await admin.deleteTopics({ topics: replayTopics }).catch(() => undefined);
    await admin.disconnect();
  },
  async run(): Promise<Sample[]> {
    replayRun++;
    const src = `bench-replay-${id}-${replayRun}`;
    const dst = `${src}.copy`;
    replayTopics.push(src, dst);
    const admin = await connectAdmin(config);
    await createTopicsAndWait(admin, [{ topic: src, numPartitions: 12, replicationFactor: 1 }]);
    await admin.disconnect();
    const producerRef = await kafkaProducerPerformance(config, src, REPLAY_N, 200);
    const consumerRef = await kafkaConsumerPerformance(config, src, REPLAY_N);
    const r = await timed(process.execPath, [
      bin,
      'replay',
      src,
      '--from-offset',
      '0',
      '--to-topic',
      dst,
      '--execute',
      '--json',
    ]);
    const result = JSON.parse(r.stdout) as { copied: number; seconds: number };
    if (result.copied !== REPLAY_N) throw new Error(`replay copied ${result.copied} of ${REPLAY_N}`);
    const rate = REPLAY_N / r.seconds;
    return [
      {
        metric: `replay --to-topic, ${REPLAY_N} records (wall)`,
        value: rate,
        unit: 'records/s',
        better: 'higher',
        reference: { name: 'Kafka ProducerPerformance', value: producerRef },
        goal: '≥ 25 % of ProducerPerformance',
        command: `orderbus replay ${src} --from-offset 0 --to-topic ${dst} --execute --json`,
      },
      {
        metric: `replay --to-topic vs reading alone`,
        value: rate,
        unit: 'records/s',
        better: 'higher',
        reference: { name: 'Kafka ConsumerPerformance', value: consumerRef },
        command: 'same run',
      },
      {
        metric: 'peak RSS of replay',
        value: r.maxRssMb ?? Number.NaN,
        unit: 'MB',
        better: 'lower',
        command: '/usr/bin/time -f %M orderbus replay …',
      },
    ];
  },
};

// ------------------------------------------------------------------ console memory

const CONSOLE_SECONDS = Number(process.env.ORDERBUS_BENCH_CONSOLE_SECONDS ?? 600);

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const consoleBench: Benchmark = {
  name: 'console-memory',
  description: `RSS of \`orderbus console --refresh 1\` in a pseudo-terminal (tmux, 120x40) over ${CONSOLE_SECONDS / 60} minutes of refreshing against the live stack`,
  runs: 1,
  async run(): Promise<Sample[]> {
    const session = `bench-console-${id}`;
    await exec('tmux', [
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '120',
      '-y',
      '40',
      process.execPath,
      bin,
      'console',
      '--refresh',
      '1',
    ]);
    try {
      let pid: number | undefined;
      for (let i = 0; i < 50 && pid === undefined; i++) {
        const { stdout } = await exec('tmux', ['list-panes', '-t', session, '-F', '#{pane_pid}']);
        const p = Number(stdout.trim());
        if (p > 0 && rssMb(p) !== null) pid = p;
        else await new Promise((r) => setTimeout(r, 200));
      }
      if (pid === undefined) throw new Error('console did not start');
      await new Promise((r) => setTimeout(r, 30_000)); // warm-up: first polls, JIT, caches
      const first = rssMb(pid) ?? 0;
      let peak = first;
      let last = first;
      const until = Date.now() + CONSOLE_SECONDS * 1000;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 5000));
        const v = rssMb(pid);
        if (v === null) throw new Error('console exited during the benchmark');
        peak = Math.max(peak, v);
        last = v;
      }
      return [
        {
          metric: `console RSS after ${CONSOLE_SECONDS / 60} min of 1 s refreshes`,
          value: last,
          unit: 'MB',
          better: 'lower',
          reference: { name: 'RSS after 30 s warm-up', value: first },
          goal: 'flat (ratio ≈ 100 %)',
          command: 'orderbus console --refresh 1 (in tmux); /proc/PID/status VmRSS every 5 s',
        },
        {
          metric: 'console peak RSS',
          value: peak,
          unit: 'MB',
          better: 'lower',
          command: 'same run',
        },
      ];
    } finally {
      await exec('tmux', ['kill-session', '-t', session]).catch(() => undefined);
    }
  },
};

export const OPS_BENCHMARKS: Benchmark[] = [lagBench, redriveBench, replayBench, consoleBench];

// ------------------------------------------------------------------ task workers

const TASKS_N = Number(process.env.ORDERBUS_BENCH_TASKS ?? 3000);

async function drainRate(kind: 'email' | 'webhook' | 'analytics'): Promise<number> {
  const { startTestPipeline } = await import('../support/pipeline.js');
  const { providerAdmin } = await import('../../src/providers/client.js');
  const { ConfirmedPublisher } = await import('../../src/tasks/publisher.js');
  const { toMessage } = await import('../../src/tasks/dispatcher.js');
  const { randomUUID } = await import('node:crypto');
  const p = await startTestPipeline({
    label: `bench-${kind}`,
    services: [`${kind}-worker`],
    extra: (c) => ({ ...c, workers: { ...c.workers, emailRatePerSecond: 100_000 } }),
  });
  try {
    const pub = new ConfirmedPublisher(p.config, 'bench', () => undefined);
    const t = await pub.topologyNames();
    const tasks = Array.from({ length: TASKS_N }, (_, i) => {
      const orderId = randomUUID();
      if (kind === 'email')
        return toMessage(t, {
          kind: 'email' as const,
          taskId: `${p.ns}-${i}`,
          orderId,
          template: 'order-confirmation' as const,
          to: `c${i}@example.com`,
          data: {},
          causationId: randomUUID(),
          correlationId: randomUUID(),
        });
      if (kind === 'webhook')
        return toMessage(t, {
          kind: 'webhook' as const,
          taskId: `${p.ns}-${i}`,
          orderId,
          url: `${p.providers.webhook.url}/hooks/v1/orders`,
          payload: { event: 'order.paid', orderId },
        });
      return toMessage(t, {
        kind: 'analytics' as const,
        taskId: `${p.ns}-${i}`,
        orderId,
        type: 'order.placed',
        at: new Date().toISOString(),
      });
    });
    const t0 = process.hrtime.bigint();
    await pub.publishAll(tasks);
    await pub.close();
    const done = async () => {
      if (kind === 'analytics')
        return Number(
          (await p.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM analytics_events')).rows[0]?.n,
        );
      const ledger = await providerAdmin.ledger(p.providers[kind].adminUrl);
      return ledger.counts[kind === 'email' ? 'email' : 'delivery'] ?? 0;
    };
    for (;;) {
      // The ledger is read whole; poll it gently and ride out a busy moment.
      if ((await done().catch(() => 0)) >= TASKS_N) break;
      if (Number(process.hrtime.bigint() - t0) / 1e9 > 600)
        throw new Error(`${kind} tasks did not drain in 10 min`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return TASKS_N / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await p.stop();
  }
}

const tasksBench: Benchmark = {
  name: 'tasks',
  description: `tasks/s per worker type: ${TASKS_N} tasks published with confirms and drained by one worker (in the benchmark's process, beside the simulated providers; providers at zero latency, e-mail rate limit lifted), against a plain amqplib publish-with-confirms loop`,
  runs: 2,
  async run(): Promise<Sample[]> {
    const reference = await amqpPublishConfirmLoop(
      config,
      `bench-ref-tasks-${id}`,
      TASKS_N,
      Buffer.alloc(300, 120),
    );
    const out: Sample[] = [];
    for (const kind of ['email', 'webhook', 'analytics'] as const) {
      out.push({
        metric: `${kind} worker: publish + deliver + ack, ${TASKS_N} tasks`,
        value: await drainRate(kind),
        unit: 'tasks/s',
        better: 'higher',
        reference: { name: 'amqplib publish + confirms loop (no consumer)', value: reference },
        command: `npm run bench -- tasks (${kind}.tasks, worker prefetch ${config.workers.prefetch})`,
      });
    }
    return out;
  },
};

OPS_BENCHMARKS.push(tasksBench);

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/adapters/postgres.js';
import { connectRabbit, type AmqpConnection } from '../../src/adapters/rabbitmq.js';
import { migrate } from '../../src/db/migrate.js';
import { DrillDatabase } from '../../src/devstack/chaos/private-postgres.js';
import { withOps } from '../../src/ops/context.js';
import type { ComponentStatus } from '../../src/ops/health.js';
import { listQueues } from '../../src/ops/queues.js';
import type { StatusReport } from '../../src/ops/status.js';
import { OpsAdapter } from '../../ui/ops-adapter.js';
import { runCli, type CliResult } from '../support/cli.js';
import { GroupsFixture } from '../support/groups.js';
import { waitUntil } from '../support/wait.js';

// PostgreSQL goes away under `orderbus status` and the console: refused (nothing listens), reset
// (a proxy takes the connection and drops it), black-holed (the connection opens, nothing answers),
// refused credentials. Each answers within its health check's bound, names postgres down with the
// reason, and keeps showing Kafka lag and the queues. The database is a private cluster reached
// through the TCP fault proxy; Kafka and RabbitMQ are the shared stack's.

const fx = new GroupsFixture('stpg');
const queue = `${fx.ns}.tasks`;
let db: DrillDatabase;
let rabbit: AmqpConnection;
/** The proxy's URL (what the CLI is pointed at) and the cluster's own. */
let viaProxy: string;
let direct: string;

beforeAll(async () => {
  await fx.start();
  db = await DrillDatabase.start(fx.config);
  viaProxy = db.serviceConfig(fx.config).database.url;
  direct = db.directConfig(fx.config).database.url;
  // Migrated like the real database, so a healthy one reports its parked outbox rows (0).
  const admin = createPool(db.directConfig(fx.config), { max: 1 });
  await migrate(admin).finally(() => admin.end());
  rabbit = await connectRabbit(fx.config, fx.ns);
  const ch = await rabbit.createChannel();
  await ch.assertQueue(queue, { durable: false });
  for (let i = 0; i < 3; i++) ch.sendToQueue(queue, Buffer.from(`task ${i}`));
  await ch.close();
  // The management API's counts are a few seconds behind the queue.
  await waitUntil('the test queue counted by the management API', () =>
    withOps(fx.config, async (ctx) => (await listQueues(ctx)).some((q) => q.name === queue && q.ready === 3)),
  );
});

afterAll(async () => {
  if (rabbit) {
    const ch = await rabbit.createChannel();
    await ch.deleteQueue(queue).catch(() => undefined);
    await rabbit.close();
  }
  await db?.stop();
  await fx.stop();
});

/** `orderbus status --json` against the database at `url`; a hang fails with its output. */
async function status(url: string, args = ['--json']): Promise<CliResult> {
  return runCli(['status', ...args], { env: { ...fx.env, ORDERBUS_DATABASE_URL: url }, timeoutMs: 45_000 });
}

const postgresOf = (components: Pick<ComponentStatus, 'name' | 'status' | 'reason'>[]) =>
  components.find((c) => c.name === 'postgres');

/** Down with `reason`, exit 1 (not healthy), and Kafka lag and the queues still shown. */
function expectPostgresDown(r: CliResult, reason: string): StatusReport {
  expect(r.code, r.stderr).toBe(1);
  const report = JSON.parse(r.stdout) as StatusReport;
  expect(postgresOf(report.components)).toMatchObject({ status: 'down', reason });
  expect(report.healthy).toBe(false);
  expect(report.problems.some((p) => p.startsWith(`postgres is down (${reason}): `))).toBe(true);
  expect(report.parkedOutbox).toBeNull();
  expect(report.components.find((c) => c.name === 'kafka')?.status).toBe('up');
  const idle = report.groups.find((g) => g.group === fx.idle);
  expect(idle?.totalLag, `groups missing; problems: ${report.problems.join(' | ')}`).toBeGreaterThan(0);
  expect(report.queues.find((q) => q.name === queue)?.ready).toBe(3);
  return report;
}

describe('status and the console with PostgreSQL down', () => {
  it('black-holed (connections open, nothing answers): down, timed out; lag and queues shown', async () => {
    const before = JSON.parse((await status(viaProxy)).stdout) as StatusReport;
    expect(postgresOf(before.components)).toMatchObject({ status: 'up' });
    expect(before.parkedOutbox).toBe(0);
    db.proxy.setFaults({ blackhole: true });
    try {
      expectPostgresDown(await status(viaProxy), 'timed out');
      const text = await status(viaProxy, []);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^postgres\s+down \(timed out\)\s/m);
      expect(text.stdout).toContain(fx.idle);
      expect(text.stdout).toContain(queue);
    } finally {
      db.proxy.heal();
    }
  });

  it('the proxy stopped: down, refused', async () => {
    await db.proxy.stop();
    try {
      expectPostgresDown(await status(viaProxy), 'refused');
    } finally {
      await db.proxy.start();
    }
  });

  it('the server stopped: refused at its own port, reset through the proxy that took the connection', async () => {
    await db.server.stop();
    try {
      expectPostgresDown(await status(direct), 'refused');
      expectPostgresDown(await status(viaProxy), 'reset');
    } finally {
      await db.server.start();
    }
  });

  it('a role the server does not know: down, auth', async () => {
    const stranger = new URL(viaProxy);
    stranger.username = 'no_such_role';
    expectPostgresDown(await status(stranger.toString()), 'auth');
  });

  it('the console overview shows postgres down with the reason beside the groups and queues', async () => {
    const adapter = new OpsAdapter(db.serviceConfig(fx.config));
    db.proxy.setFaults({ blackhole: true });
    try {
      const overview = await adapter.overview();
      expect(postgresOf(overview.components)).toMatchObject({ status: 'down', reason: 'timed out' });
      expect(overview.groups.some((g) => g.group === fx.idle && g.totalLag > 0)).toBe(true);
      expect(overview.queues.find((q) => q.name === queue)?.ready).toBe(3);
    } finally {
      db.proxy.heal();
      await adapter.close();
    }
  });
});

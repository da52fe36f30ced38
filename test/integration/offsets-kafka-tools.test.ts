import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin, createTopicsAndWait } from '../../src/adapters/kafka.js';
import type { ResetResult } from '../../src/ops/offsets.js';
import { GroupsFixture } from '../support/groups.js';
import { kafkaToolArgs } from '../support/kafka-tools.js';

/**
 * `offsets reset` with the conventions of Kafka's own tool: --dry-run, --all-topics, several
 * --topic T[:partitions], and CSV plans that go both ways between orderbus and Apache's
 * ConsumerGroupCommand (--export, --from-file).
 */
const fx = new GroupsFixture('offsets-kt');
const second = `${fx.ns}.second`;
const dir = mkdtempSync(join(tmpdir(), 'orderbus-offsets-'));
const groups: string[] = [];
const run = promisify(execFile);
/** `orderbus offsets reset --group GROUP`, to which a test adds its arguments. */
const cmd = (group: string) => ['offsets', 'reset', '--group', group];

/** A fresh idle group with these committed offsets (topic → partition → offset). */
async function seededGroup(name: string, offsets: Record<string, Record<number, number>>): Promise<string> {
  const group = `${fx.ns}.${name}`;
  groups.push(group);
  const admin = await connectAdmin(fx.config);
  for (const [topic, parts] of Object.entries(offsets))
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: Object.entries(parts).map(([p, o]) => ({ partition: Number(p), offset: String(o) })),
    });
  await admin.disconnect();
  return group;
}

/** The group's committed offsets as `topic/partition=offset`, sorted (partitions without one left out). */
async function committed(group: string): Promise<string[]> {
  const admin = await connectAdmin(fx.config);
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [fx.topic, second] });
  await admin.disconnect();
  return offsets
    .flatMap((t) =>
      t.partitions.filter((p) => Number(p.offset) >= 0).map((p) => `${t.topic}/${p.partition}=${p.offset}`),
    )
    .sort();
}

/** Apache's `kafka-consumer-groups --reset-offsets` with these arguments; its stdout. */
async function apacheReset(group: string, args: string[]): Promise<string> {
  const { stdout } = await run(
    'java',
    await kafkaToolArgs(fx.config, 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
      '--bootstrap-server',
      fx.config.kafka.brokers.join(','),
      '--group',
      group,
      '--reset-offsets',
      ...args,
    ]),
    { timeout: 90_000 },
  );
  return stdout;
}
const csvLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[^,\s]+,\d+,\d+$/.test(l))
    .sort();

beforeAll(async () => {
  await fx.start();
  fx.extraTopics.push(second);
  const admin = await connectAdmin(fx.config);
  await createTopicsAndWait(admin, [{ topic: second, numPartitions: 2, replicationFactor: 1 }]);
  await admin.disconnect();
  const producer = fx.kafka.producer();
  await producer.connect();
  for (const partition of [0, 1])
    await producer.send({
      topic: second,
      acks: -1,
      messages: Array.from({ length: 5 }, (_, i) => ({ partition, key: `s${i}`, value: `s${i}` })),
    });
  await producer.disconnect();
}, 120_000);

afterAll(async () => {
  const admin = await connectAdmin(fx.config);
  await admin.deleteGroups(groups).catch(() => undefined);
  await admin.disconnect();
  await fx.stop();
});

describe('offsets reset as Kafka tool users expect', () => {
  it('accepts --dry-run, its default, and refuses it beside --execute', async () => {
    const group = await seededGroup('dry', { [fx.topic]: { 0: 4 } });
    const plan = await fx.json<ResetResult>([
      ...cmd(group),
      '--topic',
      fx.topic,
      '--to-earliest',
      '--dry-run',
    ]);
    expect(plan.executed).toBe(false);
    expect(plan.rows.find((r) => r.partition === 0)).toMatchObject({ current: 4, target: 0 });
    const both = await fx.cli([
      ...cmd(group),
      '--topic',
      fx.topic,
      '--to-earliest',
      '--dry-run',
      '--execute',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('error[RESET_MODE]');
    expect(await committed(group)).toEqual([`${fx.topic}/0=4`]);
  }, 60_000);

  it('--all-topics covers every topic the group committed on; several --topic T:partitions reset just those', async () => {
    const group = await seededGroup('multi', { [fx.topic]: { 0: 4, 2: 30 }, [second]: { 0: 5, 1: 5 } });
    const all = await fx.json<ResetResult>([...cmd(group), '--all-topics', '--to-earliest']);
    expect(all.topics).toEqual([fx.topic, second].sort());
    expect(all.rows.map((r) => `${r.topic}/${r.partition}`).sort()).toEqual(
      [0, 1, 2]
        .map((p) => `${fx.topic}/${p}`)
        .concat([`${second}/0`, `${second}/1`])
        .sort(),
    );
    const done = await fx.json<ResetResult>([
      ...cmd(group),
      '--topic',
      `${fx.topic}:0,2`,
      '--topic',
      `${second}:1`,
      '--to-offset',
      '2',
      '--execute',
    ]);
    expect(done.rows.map((r) => `${r.topic}/${r.partition}`)).toEqual([
      `${fx.topic}/0`,
      `${fx.topic}/2`,
      `${second}/1`,
    ]);
    expect(await committed(group)).toEqual([
      `${fx.topic}/0=2`,
      `${fx.topic}/2=2`,
      `${second}/0=5`,
      `${second}/1=2`,
    ]);
    // The rollback file names its topics: it restores both without a --topic.
    expect(done.rollbackCommand).not.toContain('--topic');
    const back = await fx.cli([...cmd(group), '--from-file', done.rollbackFile ?? '', '--execute']);
    expect(back.code, back.stderr).toBe(0);
    expect(await committed(group)).toEqual([
      `${fx.topic}/0=4`,
      `${fx.topic}/2=30`,
      `${second}/0=5`,
      `${second}/1=5`,
    ]);
    const none = await fx.cli([...cmd(group), '--to-earliest']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error[RESET_SCOPE]');
  }, 120_000);

  it("applies a plan exported by Apache's tool (--export) with --from-file", async () => {
    const group = await seededGroup('from-apache', { [fx.topic]: { 0: 4, 1: 7, 2: 30 } });
    const csv = await apacheReset(group, ['--topic', fx.topic, '--to-earliest', '--export']);
    // Apache's tool quotes a topic name this long ("t…",0,0); orderbus reads either form.
    expect(csvLines(csv).map((l) => l.replace(/"/g, ''))).toEqual([0, 1, 2].map((p) => `${fx.topic},${p},0`));
    const file = join(dir, 'apache-plan.csv');
    writeFileSync(file, csv);
    expect(await committed(group)).toEqual([`${fx.topic}/0=4`, `${fx.topic}/1=7`, `${fx.topic}/2=30`]);
    const r = await fx.cli([...cmd(group), '--from-file', file, '--execute']);
    expect(r.code, r.stderr).toBe(0);
    expect((await fx.apacheDescribe(group)).map((a) => a.current)).toEqual([0, 0, 0]);
  }, 120_000);

  it("exports a plan as Kafka's CSV that Apache's tool applies with --from-file", async () => {
    const group = await seededGroup('to-apache', { [fx.topic]: { 0: 4, 2: 30 } });
    const r = await fx.cli([...cmd(group), '--topic', fx.topic, '--to-offset', '3', '--export']);
    expect(r.code, r.stderr).toBe(0);
    // Only the plan on stdout, line for line what Apache's tool exports for the same reset.
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(csvLines(r.stdout));
    const apache = await apacheReset(group, ['--topic', fx.topic, '--to-offset', '3', '--export']);
    expect(csvLines(r.stdout)).toEqual(csvLines(apache));
    const file = join(dir, 'orderbus-plan.csv');
    writeFileSync(file, r.stdout);
    await apacheReset(group, ['--from-file', file, '--execute']);
    expect((await fx.apacheDescribe(group)).map((a) => a.current)).toEqual([3, 3, 3]);
    expect(readFileSync(file, 'utf8')).toBe(
      csvLines(apache)
        .map((l) => `${l}\n`)
        .join(''),
    );
  }, 120_000);

  it('reads the several-groups CSV form, taking only its own group', async () => {
    const group = await seededGroup('groups-csv', { [fx.topic]: { 0: 4 } });
    const file = join(dir, 'groups.csv');
    writeFileSync(file, `other,${fx.topic},0,9\n${group},${fx.topic},0,6\n`);
    const plan = await fx.json<ResetResult>([...cmd(group), '--from-file', file]);
    expect(plan.rows.map((x) => [x.topic, x.partition, x.target])).toEqual([[fx.topic, 0, 6]]);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `${fx.topic};0;6\n`);
    const r = await fx.cli([...cmd(group), '--from-file', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[BAD_ROLLBACK_FILE]');
  }, 60_000);
});

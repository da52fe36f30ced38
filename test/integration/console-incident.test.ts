import { afterEach, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/adapters/kafka.js';
import { openWebhookDlq } from '../support/dead-letters.js';
import { GroupsFixture, RECORDS_PER_PARTITION } from '../support/groups.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { TmuxSession } from '../support/tmux.js';
import { waitUntil } from '../support/wait.js';

/**
 * The real `orderbus console` in tmux during an incident (issue 15): a webhook DLQ that keeps
 * filling while the operator browses and plans a redrive, and consumer groups whose rows re-sort
 * on every refresh. RabbitMQ and Kafka are checked, not the console's word.
 */
let p: TestPipeline | undefined;
let g: GroupsFixture | undefined;
let tmux: TmuxSession | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await tmux?.kill();
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  await p?.stop();
  await g?.stop();
  p = g = tmux = undefined;
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The webhook DLQ of a fresh pipeline, and a confirm channel that dead-letters into it as the worker does. */
async function webhookDlq() {
  p = await startTestPipeline({ label: 'console-incident', services: [] });
  const { conn, dlq, ch, letter } = await openWebhookDlq(p, closers);
  /** Ready and unacknowledged letters in the DLQ, as a passive declare and the consumer count see them. */
  const depth = async () => {
    const c = await conn.createChannel();
    try {
      return (await c.checkQueue(dlq)).messageCount;
    } finally {
      await c.close();
    }
  };
  return { dlq, ch, letter: (i: number) => letter(i), depth };
}

describe('orderbus console during an incident', () => {
  it('on a DLQ that keeps filling: browses N of M, shows the plan scanning, and Esc gives every letter back at once', async () => {
    const d = await webhookDlq();
    const seeded = 20_000;
    for (let i = 0; i < seeded; i++) d.letter(i);
    await d.ch.waitForConfirms();
    // The partner keeps failing: 10 new dead letters every 100 ms while the operator works.
    let next = seeded;
    const filling = setInterval(() => {
      for (let k = 0; k < 10; k++) d.letter(next++);
    }, 100);
    closers.push(async () => {
      clearInterval(filling);
      await d.ch.waitForConfirms();
    });

    tmux = await TmuxSession.start(p!.ns, ['console', '--refresh', '1'], p!.env, { columns: 140, rows: 45 });
    await tmux.waitFor('orderbus console · overview', 60_000);
    await tmux.type('2');
    await tmux.waitFor('dead letters');
    await tmux.type(`/${d.dlq}`);
    await tmux.press('Enter');
    await tmux.waitFor(new RegExp(`${escape(d.dlq)}\\s+rabbitmq`), 60_000);
    await tmux.press('Enter');
    // A page of the first 200, of every letter in the DLQ (20k and counting).
    const browsing = await tmux.waitFor(new RegExp(`${escape(d.dlq)}: 200 of \\d+\\.\\dk shown`), 60_000);
    expect(browsing).not.toContain('is empty');

    await tmux.type('u');
    await tmux.waitFor('OLD=NEW');
    await tmux.type(`${p!.providers.webhook.url}/hooks/v1=${p!.providers.webhook.url}/hooks/v2`);
    await tmux.press('Enter');
    const planning = await tmux.waitFor(
      new RegExp(`planning the redrive of ${escape(d.dlq)}… scanned [\\d.]+k? of \\d+\\.\\dk · esc cancels`),
    );
    expect(planning).not.toContain('type yes');
    // The plan holds what it scanned, unacknowledged: the ready count is below what was seeded.
    await waitUntil('the plan holding letters', async () => (await d.depth()) < seeded, {
      timeoutMs: 10_000,
    });
    await tmux.press('Escape');
    const cancelledAt = Date.now();
    await tmux.waitFor('planning cancelled');
    // Given back at once: every seeded letter is ready in the DLQ again (and the arrivals on top).
    await waitUntil('the letters back in the DLQ', async () => (await d.depth()) >= seeded, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(Date.now() - cancelledAt).toBeLessThan(3_000);
    expect(await tmux.screen()).not.toContain('type yes');
    await tmux.type('q');
    await tmux.waitFor('[exited 0]');
  }, 240_000);

  it('at 80x24: keeps the cursor on its group while the rows re-sort, Enter opens it, and o refuses an active group', async () => {
    g = new GroupsFixture('console-groups');
    await g.start();
    const fixture = g;
    // Three idle groups with lag 50, 40 and 30 on the fixture's topic (60 records).
    const total = RECORDS_PER_PARTITION.reduce((a, b) => a + b, 0);
    // Named from the front: at 80 columns the name column is 20 wide, and the rows must differ.
    const lagged = ['ga', 'gb', 'gc'].map((x) => `${x}.${fixture.ns}`);
    const admin = await connectAdmin(fixture.config);
    closers.push(async () => {
      await admin.deleteGroups(lagged).catch(() => undefined);
      await admin.disconnect();
    });
    // Lag by group: all of partition 2's records unread, plus some of partition 1's.
    const commit = (group: string, p1: number) =>
      admin.setOffsets({
        groupId: group,
        topic: fixture.topic,
        partitions: [
          { partition: 0, offset: String(RECORDS_PER_PARTITION[0]) },
          { partition: 1, offset: String(p1) },
          { partition: 2, offset: '0' },
        ],
      });
    await commit(lagged[0]!, 0); // lag 50
    await commit(lagged[1]!, 10); // lag 40
    await commit(lagged[2]!, 20); // lag 30
    expect(total).toBe(60);

    tmux = await TmuxSession.start(g.ns, ['console', '--refresh', '1'], g.env, { columns: 80, rows: 24 });
    await tmux.waitFor('orderbus console · overview', 60_000);
    await tmux.type(`/${g.ns}`);
    await tmux.press('Enter');
    const rowOf = (screen: string, group: string) =>
      screen.split('\n').findIndex((l) => l.startsWith(group.slice(0, 10)));
    const ordered = (a: string, b: string) => (screen: string) =>
      rowOf(screen, a) >= 0 && rowOf(screen, b) > rowOf(screen, a);
    const [ga, gb, gc] = lagged as [string, string, string];
    const screenWith = (check: (s: string) => boolean, what: string) =>
      waitUntil(what, async () => {
        const s = await tmux!.screen();
        return check(s) ? s : null;
      });
    await screenWith((s) => ordered(ga, gb)(s) && ordered(gb, gc)(s), 'ga, gb, gc by lag');
    await tmux.type('j'); // gb, the 2nd row
    // gb catches up: its lag drops to 5, below gc's, and the rows re-sort under the cursor.
    await commit(gb, 35);
    await screenWith((s) => ordered(gc, gb)(s), 'gb re-sorted below gc');
    await tmux.press('Enter');
    await tmux.waitFor(new RegExp(`${escape(gb)} state Empty`));
    await tmux.press('Escape');
    await tmux.waitFor('CONSUMER GROUPS');

    // The active group (one live member): o refuses before any plan, as the CLI does.
    await tmux.type(`/${g.active}`);
    await tmux.press('Enter');
    // Enter opens the row under the cursor on the screen drawn last: wait for the filtered list
    // (at 80 columns the idle and the active group's names show the same first 18 characters, and
    // before the filter is drawn the top row is whichever group of the cluster lags most).
    const named = (s: string) => s.split('\n').filter((l) => l.startsWith(g!.active.slice(0, 18)));
    await screenWith((s) => s.includes('filter: ') && named(s).length === 1, 'the active group alone');
    await tmux.press('Enter');
    await tmux.waitFor(new RegExp(`${escape(g.active)} state Stable · members 1`));
    await tmux.type('o');
    // The reason wraps onto a second line at 80 columns.
    const refused = (await tmux.waitFor('error[GROUP_ACTIVE]')).replace(/\s+/g, ' ');
    expect(refused).toContain(`group ${g.active} is Stable with 1 active member(s)`);
    expect(refused).not.toContain('reset to');
    expect(refused).not.toContain('DRY RUN');
    const offsets = await admin.fetchOffsets({ groupId: g.active, topics: [g.topic] });
    expect(offsets[0]?.partitions.map((x) => Number(x.offset))).toEqual([...RECORDS_PER_PARTITION]);
    await tmux.type('q');
    await tmux.waitFor('[exited 0]');
  }, 240_000);
});

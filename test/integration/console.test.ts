import { afterEach, describe, expect, it } from 'vitest';
import { providerAdmin } from '../../src/providers/client.js';
import { deadLetterWebhooks, queueDepth } from '../support/dead-letters.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { TmuxSession } from '../support/tmux.js';
import { waitUntil } from '../support/wait.js';

/**
 * The real `orderbus console` in a pseudo-terminal (tmux) against the real stack: an operator
 * finds the webhook DLQ, fixes the moved URL and redrives with keys; the broker and the
 * partner's ledger are checked afterwards.
 */
let p: TestPipeline | undefined;
let tmux: TmuxSession | undefined;
afterEach(async () => {
  await tmux?.kill();
  await p?.stop();
  p = tmux = undefined;
});

describe('orderbus console in a terminal', () => {
  it('redrives a webhook DLQ with a fixed URL by keyboard; the broker and the partner agree', async () => {
    p = await startTestPipeline({ label: 'console', services: ['webhook-worker'] });
    const { dlq } = await deadLetterWebhooks(p, 3);

    tmux = await TmuxSession.start(p.ns, ['console', '--refresh', '1'], p.env);
    await tmux.waitFor('orderbus console · overview', 60_000);
    await tmux.waitFor(/kafka up\s+rabbitmq up/);
    await tmux.type('2');
    await tmux.waitFor('dead letters');
    await tmux.type('/');
    await tmux.waitFor('filter:');
    await tmux.type(dlq);
    await tmux.waitFor(`ilter: ${dlq}`);
    await tmux.press('Enter');
    await tmux.waitFor(new RegExp(`${dlq.replace(/\./g, '\\.')}\\s+rabbitmq\\s+3`));
    await tmux.press('Enter');
    await tmux.waitFor(`${p.ns}-task-2`);
    const browsing = await tmux.screen();
    expect(browsing).toContain('HttpGone');
    await tmux.type('u');
    await tmux.waitFor('OLD=NEW');
    const oldUrl = `${p.providers.webhook.url}/hooks/v1`;
    const newUrl = `${p.providers.webhook.url}/hooks/v2`;
    await tmux.type(`${oldUrl}=${newUrl}`);
    await tmux.waitFor(newUrl);
    await tmux.press('Enter');
    const preview = await tmux.waitFor('type yes');
    expect(preview).toContain('redrive 3 message(s)?');
    expect(preview).toContain(newUrl);
    // The dry run sent nothing. (The console's DLQ screen browses the queue on every refresh,
    // holding its messages unacked for a moment, so the ready count is read until it settles.)
    await waitUntil('the dry run left all 3 in the DLQ', async () => (await queueDepth(p!, dlq)) === 3);
    expect((await providerAdmin.ledger(p.providers.webhook.adminUrl)).counts.delivery ?? 0).toBe(0);
    await tmux.type('yes');
    await tmux.waitFor(/type yes: ?yes/);
    await tmux.press('Enter');
    await tmux.waitFor('redriven 3, failed 0, left in the DLQ 0');
    await waitUntil(
      'three deliveries at the partner',
      async () => (await providerAdmin.ledger(p!.providers.webhook.adminUrl)).counts.delivery === 3,
    );
    expect(await queueDepth(p, dlq)).toBe(0);
    await tmux.type('q');
    const last = await tmux.waitFor('[exited 0]');
    expect(last).not.toMatch(/at .*\.js:\d+/); // no stack trace on the screen
  }, 120_000);
});

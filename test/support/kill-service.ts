import type { ChildProcess } from 'node:child_process';
import type { ProviderName } from '../../src/providers/index.js';
import { providerAdmin } from '../../src/providers/client.js';
import type { TestPipeline } from './pipeline.js';
import { waitUntil } from './wait.js';

/** How many entries of `kind` (charge, email, delivery, label…) a provider's ledger holds. */
export async function ledgerCount(p: TestPipeline, provider: ProviderName, kind: string): Promise<number> {
  return (await providerAdmin.ledger(p.providers[provider].adminUrl)).counts[kind] ?? 0;
}

/**
 * Kills `child` (a `service` process from p.spawnService) with SIGKILL once the provider's ledger
 * holds `atLeast` entries of `kind` — work is in flight — and starts the service again once it is
 * gone. Returns the new process.
 */
export async function killMidFlight(
  p: TestPipeline,
  child: ChildProcess,
  service: string,
  when: { provider: ProviderName; kind: string; atLeast: number; what: string },
): Promise<ChildProcess> {
  await waitUntil(when.what, async () => (await ledgerCount(p, when.provider, when.kind)) >= when.atLeast, {
    timeoutMs: 60_000,
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return p.spawnService(service);
}

import { loadConfig } from '../../src/config.js';
import { stackStatus, stackUp } from '../../src/devstack/stack/stack.js';

/**
 * Integration tests need the real stack. Start it if it is not up; if it cannot start, fail
 * with the command that starts it — never skip.
 */
export default async function setup(): Promise<void> {
  const config = loadConfig();
  const status = await stackStatus(config);
  if (status.healthy) return;
  const down = status.components.filter((c) => c.status !== 'up').map((c) => c.name);
  process.stderr.write(`integration tests: starting the stack (${down.join(', ')} not up)\n`);
  try {
    await stackUp(config, { log: (s) => process.stderr.write(`  ${s}\n`) });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `the stack could not start: ${msg}\nRun: npx orderbus stack up (then npx orderbus stack status)`,
    );
  }
}

import { formatError } from '../src/errors.js';
import { log } from './output.js';

/**
 * `--watch`: load and print every `intervalS` seconds until Ctrl-C — the screen redrawn in place,
 * or with --json one JSON document per line. A failed load is reported on stderr and retried, so
 * the watch outlives a broker outage.
 */
export async function watch<T>(
  intervalS: number,
  load: () => Promise<T>,
  show: { json: boolean; render: (data: T) => string },
): Promise<void> {
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  while (!stop) {
    try {
      const data = await load();
      if (show.json) process.stdout.write(`${JSON.stringify(data)}\n`);
      else process.stdout.write(`\u001b[2J\u001b[H${show.render(data)}\n`);
    } catch (e) {
      log(`${formatError(e, { hint: false, fallbackCode: 'ERROR' })} (retrying)`);
    }
    const until = Date.now() + intervalS * 1000;
    while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }
}

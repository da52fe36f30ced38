import { formatError } from '../src/errors.js';
import { boundHeapGrowth } from './heap.js';
import { log } from './output.js';

/**
 * `--watch`: load and print every `intervalS` seconds until Ctrl-C — a terminal redrawn in place,
 * a pipe appended to, or with --json one JSON document per line. A failed load is reported on stderr and retried, so
 * the watch outlives a broker outage.
 */
export async function watch<T>(
  intervalS: number,
  load: () => Promise<T>,
  show: { json: boolean; render: (data: T) => string },
): Promise<void> {
  boundHeapGrowth();
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  while (!stop) {
    try {
      const data = await load();
      if (show.json) process.stdout.write(`${JSON.stringify(data)}\n`);
      // Only a terminal is cleared and redrawn; a pipe or file gets each screen after the last.
      else if (process.stdout.isTTY) process.stdout.write(`\u001b[2J\u001b[H${show.render(data)}\n`);
      else process.stdout.write(`${show.render(data)}\n\n`);
    } catch (e) {
      log(`${formatError(e, { hint: false, fallbackCode: 'ERROR' })} (retrying)`);
    }
    const until = Date.now() + intervalS * 1000;
    while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }
}

import { setFlagsFromString } from 'node:v8';

/**
 * The old generation's growth between major GCs for the views that refresh until Ctrl-C (`--watch`,
 * the console, the metrics server): V8 lets the heap grow to about 4x what the last major GC left
 * when collecting is cheap, so a refresh that promotes a few MB of garbage swings the heap between
 * the live set and four times it, and RSS with it (on 1,000 groups x 20 partitions: RSS 280–430 MB
 * in 15 s readings, ~75 MB live). Twice the live set instead holds RSS within a few percent for
 * ~15 % more CPU (test/bench/NOTES.md, "RSS of the long-running views held by the heap's growth").
 *
 * V8 reads this flag whenever it sizes the heap after a GC, so setting it at run time takes effect
 * (unlike the young generation's size, fixed when the heap is made). A flag given on the command
 * line (`node --heap-growing-percent=N bin/orderbus ...`) is left as given.
 */
export const HEAP_GROWING_PERCENT = 100;

let bounded = false;

export function boundHeapGrowth(): void {
  if (bounded || process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) return;
  bounded = true;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

import { afterEach } from 'vitest';

/**
 * What a test opens, closed after it last-first (a failing close does not hide the others), then
 * `last` (the test's pipeline). Push a closer as soon as the thing it closes exists.
 */
export function closeAfterEach(
  last: () => Promise<void> = async () => undefined,
): (() => Promise<unknown>)[] {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
    await last();
  });
  return closers;
}

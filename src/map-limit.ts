/**
 * `fn` over `items`, at most `limit` at a time, results in the items' order. After a failure no
 * further item is started, and the first failure is thrown once the ones in flight have settled:
 * nothing is left running behind the caller (on a client it is about to replace, into a result it
 * has given up).
 */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let i = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length && !failure) {
        const idx = i++;
        try {
          out[idx] = await fn(items[idx] as T);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
  return out;
}

/** `items` in slices of `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

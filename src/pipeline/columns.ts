/**
 * Rows as one array per column, the parameters of `INSERT … SELECT * FROM unnest($1::uuid[],
 * $2::text[], …)`: a batch written in one statement. `row` gives a row's values in column order.
 * Batches are never empty (an empty one has no columns here, and its statement would fail).
 */
export function columnsOf<T>(rows: readonly T[], row: (r: T) => readonly unknown[]): unknown[][] {
  const values = rows.map(row);
  return (values[0] ?? []).map((_, i) => values.map((v) => v[i]));
}

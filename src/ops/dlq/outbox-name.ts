/**
 * The outbox's parked rows as a dead-letter source in `orderbus dlq`. A module of its own (no
 * imports), so the CLI can name it in its help without loading the database driver.
 */
export const OUTBOX_DLQ = 'outbox.parked';

-- Parked outbox rows are a dead-letter source (`orderbus dlq ... outbox.parked`). A redrive
-- un-parks a row (its payload edited and validated first) and counts it; a purge never deletes
-- one: it marks it discarded with the purge's audit id. A discarded row keeps parked_at (the relay
-- never sends it) and is no longer counted as parked by `orderbus status` or `dlq list`.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS discarded_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS discard_audit text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS redrive_count int NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS redrive_audit text;
CREATE INDEX IF NOT EXISTS outbox_parked_open ON outbox (id)
  WHERE parked_at IS NOT NULL AND discarded_at IS NULL;

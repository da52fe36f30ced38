-- A row the relay cannot encode (its payload fails its schema) is parked with its reason instead
-- of blocking its shard for good: the relay skips parked rows, `orderbus status` counts them.
-- Parked rows stay unsent (sent_at NULL), so retention never prunes them.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS parked_reason text;
CREATE INDEX IF NOT EXISTS outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;

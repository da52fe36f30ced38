-- The retention service deletes old rows in small batches, oldest first: each batch must find its
-- rows by age through an index, not by scanning the table (which would slow checkout's writes).
-- Unsent (and parked) outbox rows are never pruned, so outbox's index holds sent rows only.
CREATE INDEX IF NOT EXISTS inbox_processed_at ON inbox (processed_at);
CREATE INDEX IF NOT EXISTS outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS checkout_requests_created_at ON checkout_requests (created_at);
CREATE INDEX IF NOT EXISTS provider_requests_created_at ON provider_requests (created_at);

-- An Idempotency-Key is bound to the body it first came with (as Stripe does): checkout stores a
-- SHA-256 of the canonical body beside the key, and a reuse of the key with another body answers
-- 422 instead of replaying the first order. Rows written before have no hash and replay as before.
ALTER TABLE checkout_requests ADD COLUMN IF NOT EXISTS request_hash text;

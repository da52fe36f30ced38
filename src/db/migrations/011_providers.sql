-- The simulated providers keep their idempotency keys and ledgers durably, like real ones: a
-- provider restarted by a chaos drill still replays a retried key instead of charging twice.
CREATE TABLE IF NOT EXISTS provider_requests (
  provider text NOT NULL,
  idempotency_key text NOT NULL,
  status int NOT NULL,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, idempotency_key)
);
CREATE TABLE IF NOT EXISTS provider_ledger (
  id bigserial PRIMARY KEY,
  provider text NOT NULL,
  kind text NOT NULL,
  idempotency_key text NOT NULL,
  order_id text,
  data jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS provider_ledger_provider ON provider_ledger (provider, kind);

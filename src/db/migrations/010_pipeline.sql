-- Orders, the transactional outbox, per-consumer inboxes (dedup by event id) and the pipeline's
-- own records. Every service writes its effect, its inbox row and its next events in one transaction.
CREATE TABLE IF NOT EXISTS orders (
  id uuid PRIMARY KEY,
  customer_id text NOT NULL,
  email text NOT NULL,
  status text NOT NULL,
  total_cents bigint NOT NULL,
  currency text NOT NULL DEFAULT 'EUR',
  items jsonb NOT NULL,
  shipping_address jsonb NOT NULL,
  payment_method jsonb NOT NULL,
  correlation_id uuid NOT NULL,
  tracking_number text,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_status_updated ON orders (status, updated_at);

CREATE TABLE IF NOT EXISTS checkout_requests (
  idempotency_key text PRIMARY KEY,
  order_id uuid NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  shard int NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  order_id uuid NOT NULL,
  type text NOT NULL,
  envelope jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (shard, id) WHERE sent_at IS NULL;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('orderbus_outbox', NEW.shard::text);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();

CREATE TABLE IF NOT EXISTS inbox (
  consumer text NOT NULL,
  event_id uuid NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS order_timeline (
  order_id uuid NOT NULL,
  event_id uuid NOT NULL,
  type text NOT NULL,
  source text NOT NULL,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, event_id)
);

CREATE TABLE IF NOT EXISTS rejected_transitions (
  id bigserial PRIMARY KEY,
  order_id uuid NOT NULL,
  event_id uuid NOT NULL,
  from_status text NOT NULL,
  event_type text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS payments (
  order_id uuid PRIMARY KEY,
  charge_id text,
  status text NOT NULL,
  amount_cents bigint NOT NULL,
  refund_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stock (
  sku text PRIMARY KEY,
  available int NOT NULL
);

CREATE TABLE IF NOT EXISTS reservations (
  order_id uuid PRIMARY KEY,
  items jsonb NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Shipping labels are jobs in the database: the consumer records the job and commits its offset
-- at once, and a worker pool calls the (possibly slow) provider, so a 10 s provider never stalls
-- the fetch loop, and a crash loses no job.
CREATE TABLE IF NOT EXISTS shipments (
  order_id uuid PRIMARY KEY,
  status text NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  causation_id uuid NOT NULL,
  correlation_id uuid NOT NULL,
  address jsonb NOT NULL,
  items jsonb NOT NULL,
  tracking_number text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS shipments_due ON shipments (next_attempt_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS loyalty_points (
  customer_id text PRIMARY KEY,
  points bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS fraud_audit (
  event_id uuid PRIMARY KEY,
  order_id uuid NOT NULL,
  type text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS recommendations (
  sku text PRIMARY KEY,
  purchases bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS warehouse_events (
  event_id uuid PRIMARY KEY,
  order_id uuid NOT NULL,
  type text NOT NULL,
  batch_at timestamptz NOT NULL
);

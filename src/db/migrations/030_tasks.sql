-- Task layer: a token bucket shared by every email worker instance, and the analytics sink.
CREATE TABLE IF NOT EXISTS rate_limits (
  name text PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS analytics_events (
  task_id text PRIMARY KEY,
  order_id uuid,
  type text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

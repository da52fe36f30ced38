-- Foundation: the audit trail of the stack itself. Pipeline tables come in later migrations.
CREATE TABLE IF NOT EXISTS stack_info (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

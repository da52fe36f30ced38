-- A writer that commits many one-row transactions (checkout) can opt out of the trigger's NOTIFY
-- for its transaction (set_config('orderbus.outbox_notify', 'off', true)) and wake the relay itself,
-- once for many commits: each notifying commit takes a database-wide lock held through its WAL
-- flush, which serialized every checkout. Everyone else still notifies once per statement.
CREATE OR REPLACE FUNCTION outbox_notify_statement() RETURNS trigger AS $$
BEGIN
  IF coalesce(current_setting('orderbus.outbox_notify', true), '') <> 'off'
     AND EXISTS (SELECT 1 FROM inserted) THEN
    PERFORM pg_notify('orderbus_outbox', '');
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;

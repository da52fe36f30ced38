-- The outbox wakes its relay once per INSERT statement instead of once per row. Every NOTIFY makes
-- its transaction take a database-wide lock at commit (held through the commit's WAL flush), so a
-- per-row trigger serialized every outbox commit and sent one notification per row; the relay only
-- needs to be woken (it reads the rows itself). A statement that inserts nothing (ON CONFLICT DO
-- NOTHING on a redelivered event) notifies nobody. The channel stays `orderbus_outbox`.
CREATE OR REPLACE FUNCTION outbox_notify_statement() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted) THEN
    PERFORM pg_notify('orderbus_outbox', '');
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP TRIGGER IF EXISTS outbox_notify_statement ON outbox;
CREATE TRIGGER outbox_notify_statement AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_statement();
DROP FUNCTION IF EXISTS outbox_notify();

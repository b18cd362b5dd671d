-- migrate:up
-- Wake the relay when outbox rows commit, without a second round trip from the writer: NOTIFY is
-- delivered at commit, once per transaction and channel.
CREATE FUNCTION kit_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kit_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER kit_outbox_notify AFTER INSERT ON kit_outbox FOR EACH STATEMENT EXECUTE FUNCTION kit_outbox_notify();

-- migrate:down
DROP TRIGGER kit_outbox_notify ON kit_outbox;
DROP FUNCTION kit_outbox_notify();

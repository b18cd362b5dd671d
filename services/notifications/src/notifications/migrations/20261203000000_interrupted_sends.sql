-- migrate:up
-- A round in progress: written and committed before the SMTP server is given the round's messages, deleted in
-- the transaction that records their outcomes. A row still here when its message is claimed again means the
-- sender died (or lost its database for good) after the server may have taken the message: the next send may
-- be a duplicate, and the delivery log says so (interrupted_attempts).
-- No foreign key on purpose: its FOR KEY SHARE check would wait on the claiming transaction's row lock.
CREATE TABLE email_send_attempts (
    message_id uuid        NOT NULL,
    round_id   uuid        NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, round_id)
);
CREATE INDEX email_send_attempts_round ON email_send_attempts (round_id);

ALTER TABLE email_messages ADD COLUMN interrupted_attempts int NOT NULL DEFAULT 0;

-- migrate:down
ALTER TABLE email_messages DROP COLUMN interrupted_attempts;
DROP TABLE email_send_attempts;

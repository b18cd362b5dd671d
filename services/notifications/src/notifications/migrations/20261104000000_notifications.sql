-- migrate:up
-- Projections of other services' events: only what notifications need, keyed like the events.
CREATE TABLE staff (
    user_id    text PRIMARY KEY,
    name       text        NOT NULL,
    email      text        NOT NULL,
    area       text        NOT NULL DEFAULT '',
    manager_id text,
    active     boolean     NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    ticket_id           uuid PRIMARY KEY,
    code                text        NOT NULL,
    responsibility      text        NOT NULL,
    due_date            date        NOT NULL,
    responsible_id      text        NOT NULL,
    responsible_name    text        NOT NULL,
    responsible_email   text        NOT NULL,
    area                text        NOT NULL DEFAULT '',
    ticket_type         text,
    event_id            uuid        NOT NULL,
    event_code          text        NOT NULL,
    event_title         text        NOT NULL,
    event_internal_date date        NOT NULL,
    attention_id        uuid        NOT NULL,
    attention_code      text        NOT NULL,
    subject_kind        text        NOT NULL,
    subject_name        text        NOT NULL,
    subject_nic         text,
    cc                  jsonb       NOT NULL DEFAULT '[]',
    status              text        NOT NULL DEFAULT 'assigned',
    closed              boolean     NOT NULL DEFAULT false,
    assigned_at         timestamptz NOT NULL,
    closed_at           timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_open ON tickets (due_date) WHERE NOT closed;
CREATE INDEX tickets_event ON tickets (event_id) WHERE NOT closed;

CREATE TABLE events (
    event_id                 uuid PRIMARY KEY,
    attention_id             uuid        NOT NULL,
    code                     text        NOT NULL,
    title                    text        NOT NULL,
    subject_kind             text        NOT NULL,
    subject_name             text        NOT NULL,
    subject_nic              text,
    client_commitment_date   date        NOT NULL,
    internal_commitment_date date        NOT NULL,
    created_by               text        NOT NULL,
    opened_at                timestamptz NOT NULL,
    closed                   boolean     NOT NULL DEFAULT false,
    closed_at                timestamptz
);
CREATE INDEX events_open ON events (internal_commitment_date) WHERE NOT closed;

-- The email outbox and delivery log: every message is recorded (rendered, as MIME) before it is sent.
CREATE TABLE email_messages (
    id              uuid PRIMARY KEY,
    -- One message per (cause, recipient, kind): assignment:<event id>:<user>, reminder:<ticket>:<rule>,
    -- escalation:<ticket>:<ladder>:<tier>, event-internal:<event>:<date>, event-client:<event>:<N>d.
    dedupe_key      text        NOT NULL UNIQUE,
    kind            text        NOT NULL CHECK (kind IN ('assignment', 'reminder', 'escalation',
                                                         'event_internal_overdue', 'event_client_due')),
    ticket_id       uuid,
    ticket_code     text,
    event_id        uuid,
    source_event_id uuid,
    tier            int,
    recipient_id    text        NOT NULL,
    recipient_name  text        NOT NULL,
    recipient_email text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('to', 'cc')),
    subject         text        NOT NULL,
    message_id      text        NOT NULL,
    mime            bytea       NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'retrying', 'sent', 'failed', 'cancelled')),
    attempts        int         NOT NULL DEFAULT 0,
    last_error      text,
    smtp_response   text,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    sent_at         timestamptz,
    finished_at     timestamptz
);
-- The sender only looks at what is due.
CREATE INDEX email_messages_due ON email_messages (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX email_messages_ticket ON email_messages (ticket_id, created_at);
CREATE INDEX email_messages_event ON email_messages (event_id, created_at);
CREATE INDEX email_messages_recipient ON email_messages (recipient_id, created_at);

-- migrate:down
DROP TABLE email_messages;
DROP TABLE events;
DROP TABLE tickets;
DROP TABLE staff;

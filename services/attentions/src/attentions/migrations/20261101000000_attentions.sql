-- migrate:up

-- Human codes: ATN-2026-000123 (attentions), EVT-... (events), TCK-... (tickets) come from one sequence per
-- prefix and year, created on first use. nextval never blocks and never rolls back, so concurrent creations
-- never wait on each other; a rolled-back creation leaves a gap, never a duplicate.
CREATE FUNCTION next_code_number(prefix text, year int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := format('code_seq_%s_%s', lower(prefix), year);
BEGIN
    BEGIN
        RETURN nextval(seq);
    EXCEPTION WHEN undefined_table THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another transaction created it at the same moment
        END;
        RETURN nextval(seq);
    END;
END;
$$;

-- The whole code: PREFIX-YEAR-NNNNNN (six digits at least; more once past 999999, never truncated).
CREATE FUNCTION next_code(prefix text, year int) RETURNS text
LANGUAGE sql AS $$
    SELECT format('%s-%s-%s', prefix, year, CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END)
      FROM (SELECT next_code_number(prefix, year) AS n) s
$$;

CREATE SEQUENCE client_code_seq;

CREATE TABLE staff (
    user_id     text PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    area        text NOT NULL,
    manager_id  text,
    roles       text[] NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (roles <@ ARRAY['admin', 'agent', 'technical_manager']::text[]),
    CHECK (manager_id IS DISTINCT FROM user_id)
);

CREATE TABLE clients (
    client_id   uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('prospect', 'stakeholder')),
    internal    boolean NOT NULL DEFAULT false,
    name        text NOT NULL,
    tax_id      text,
    sector      text,
    address     text,
    phones      text[] NOT NULL DEFAULT '{}',
    email       text,
    notes       text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT internal OR kind = 'stakeholder')
);
CREATE INDEX clients_name_idx ON clients (lower(name));
CREATE INDEX clients_tax_id_idx ON clients (tax_id);

-- Who may see a client and everything under it (the creator and the users added). Admins see all.
CREATE TABLE client_access (
    client_id   uuid NOT NULL REFERENCES clients ON DELETE CASCADE,
    user_id     text NOT NULL,
    granted_by  text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, user_id)
);
CREATE INDEX client_access_user_idx ON client_access (user_id, client_id);

CREATE TABLE client_contacts (
    contact_id      uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients ON DELETE CASCADE,
    name            text NOT NULL,
    position        text,
    phone           text,
    email           text,
    decision_maker  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX client_contacts_client_idx ON client_contacts (client_id);

-- Read-only replica of FACTELEC's supply points (suministros), from factelec.supply-points.v1.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE supply_points (
    nic                text PRIMARY KEY,
    holder             text NOT NULL,
    address            text NOT NULL,
    municipality       text NOT NULL,
    department         text NOT NULL,
    tariff             text NOT NULL,
    meter              text,
    connection_status  text NOT NULL,
    source_updated_at  timestamptz NOT NULL,
    retired_at         timestamptz,
    retired_reason     text,
    replicated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX supply_points_holder_trgm ON supply_points USING gin (holder gin_trgm_ops);
CREATE INDEX supply_points_address_trgm ON supply_points USING gin (address gin_trgm_ops);

CREATE TABLE attentions (
    attention_id   uuid PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    subject_kind   text NOT NULL CHECK (subject_kind IN ('client', 'supply_point')),
    client_id      uuid REFERENCES clients,
    nic            text REFERENCES supply_points,
    channel        text NOT NULL CHECK (channel IN ('phone', 'email', 'letter', 'visit', 'web', 'other')),
    subject        text NOT NULL,
    description    text NOT NULL DEFAULT '',
    happened_at    timestamptz NOT NULL,
    registered_by  text NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    contact_ids    uuid[] NOT NULL DEFAULT '{}',
    contact_names  text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at      timestamptz,
    closed_by      text,
    closing_note   text,
    CHECK ((subject_kind = 'client' AND client_id IS NOT NULL AND nic IS NULL)
        OR (subject_kind = 'supply_point' AND nic IS NOT NULL AND client_id IS NULL)),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX attentions_client_idx ON attentions (client_id, registered_at DESC) WHERE client_id IS NOT NULL;
CREATE INDEX attentions_nic_idx ON attentions (nic, registered_at DESC) WHERE nic IS NOT NULL;
CREATE INDEX attentions_registered_idx ON attentions (registered_at DESC);

CREATE TABLE events (
    event_id                  uuid PRIMARY KEY,
    code                      text NOT NULL UNIQUE,
    attention_id              uuid NOT NULL REFERENCES attentions,
    title                     text NOT NULL,
    description               text NOT NULL DEFAULT '',
    client_commitment_date    date NOT NULL,
    internal_commitment_date  date NOT NULL,
    status                    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by                text NOT NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    closed_at                 timestamptz,
    closed_by                 text,
    closing_note              text,
    CHECK (internal_commitment_date < client_commitment_date),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX events_attention_idx ON events (attention_id, status);
CREATE INDEX events_created_idx ON events (created_at DESC);

-- Tickets accepted on an event; their status comes back from the tickets service as events.
CREATE TABLE event_tickets (
    ticket_id          uuid PRIMARY KEY,
    code               text NOT NULL UNIQUE,
    event_id           uuid NOT NULL REFERENCES events,
    responsibility     text NOT NULL,
    due_date           date NOT NULL,
    responsible_id     text NOT NULL,
    cc_ids             text[] NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    status_changed_at  timestamptz,
    late_reopened_at   timestamptz,
    requested_by       text NOT NULL,
    requested_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_tickets_event_idx ON event_tickets (event_id, status);

-- PDF attachments, kept in the database: they commit or roll back with the rest, are backed up with it,
-- and are read through the same access check as their attention.
CREATE TABLE attachments (
    attachment_id  uuid PRIMARY KEY,
    attention_id   uuid NOT NULL REFERENCES attentions,
    event_id       uuid REFERENCES events,
    filename       text NOT NULL,
    content_type   text NOT NULL DEFAULT 'application/pdf',
    size_bytes     integer NOT NULL,
    sha256         text NOT NULL,
    pages          integer NOT NULL,
    content        bytea NOT NULL,
    uploaded_by    text NOT NULL,
    uploaded_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE attachments ALTER COLUMN content SET STORAGE EXTERNAL;  -- PDFs are compressed already
CREATE INDEX attachments_attention_idx ON attachments (attention_id);
CREATE INDEX attachments_event_idx ON attachments (event_id) WHERE event_id IS NOT NULL;

-- Who changed what, when, with the object before and after. client_id scopes the row for access checks.
CREATE TABLE audit_log (
    audit_id     bigserial PRIMARY KEY,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    action       text NOT NULL,
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    client_id    uuid,
    nic          text,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, audit_id);

-- migrate:down
DROP TABLE audit_log;
DROP TABLE attachments;
DROP TABLE event_tickets;
DROP TABLE events;
DROP TABLE attentions;
DROP TABLE supply_points;
DROP TABLE client_contacts;
DROP TABLE client_access;
DROP TABLE clients;
DROP TABLE staff;
DROP SEQUENCE client_code_seq;
DROP FUNCTION next_code(text, int);
DROP FUNCTION next_code_number(text, int);
DO $$
DECLARE seq text;
BEGIN
    FOR seq IN SELECT sequencename FROM pg_sequences WHERE sequencename LIKE 'code\_seq\_%' LOOP
        EXECUTE format('DROP SEQUENCE %I', seq);
    END LOOP;
END;
$$;

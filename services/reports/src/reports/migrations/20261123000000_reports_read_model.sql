-- migrate:up
-- The reports read model: built only from consumed events, rebuildable from the topics (docs/reports.md).
-- Every row is an upsert that converges whatever order its events arrive in: each column group carries
-- the time of the event that set it, and an older event never overwrites a newer one.

CREATE TABLE rpt_staff (
    user_id    text PRIMARY KEY,
    name       text NOT NULL,
    area       text NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE TABLE rpt_clients (
    client_id  uuid PRIMARY KEY,
    code       text NOT NULL,
    kind       text NOT NULL,
    internal   boolean NOT NULL,
    name       text NOT NULL,
    changed_at timestamptz NOT NULL
);

-- Latest access change per (client, user): granted true or false. Reports read only granted rows.
CREATE TABLE rpt_client_access (
    client_id  uuid NOT NULL,
    user_id    text NOT NULL,
    granted    boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE rpt_supply_points (
    nic        text PRIMARY KEY,
    holder     text NOT NULL,
    address    text NOT NULL,
    tariff     text NOT NULL,
    retired    boolean NOT NULL DEFAULT false,
    changed_at timestamptz NOT NULL
);

-- Subject columns are denormalized on every fact row so a report filters one table by one index.
CREATE TABLE rpt_attentions (
    attention_id  uuid PRIMARY KEY,
    code          text,
    subject_kind  text,
    client_id     uuid,
    nic           text,
    subject_name  text,
    channel       text,
    summary       text,
    registered_by text,
    opened_at     timestamptz,          -- happened_at of the attention (when the interaction happened)
    closed_at     timestamptz,
    closed_by     text
);
CREATE INDEX rpt_attentions_client ON rpt_attentions (client_id, opened_at) WHERE client_id IS NOT NULL;
CREATE INDEX rpt_attentions_nic ON rpt_attentions (nic, opened_at) WHERE nic IS NOT NULL;
CREATE INDEX rpt_attentions_opened ON rpt_attentions (opened_at) INCLUDE (channel, subject_kind, client_id);
CREATE INDEX rpt_attentions_closed ON rpt_attentions (closed_at) INCLUDE (channel, subject_kind, client_id);
CREATE INDEX rpt_attentions_open ON rpt_attentions (opened_at) INCLUDE (channel, subject_kind, client_id)
    WHERE closed_at IS NULL;

CREATE TABLE rpt_events (
    event_id                 uuid PRIMARY KEY,
    attention_id             uuid,
    code                     text,
    subject_kind             text,
    client_id                uuid,
    nic                      text,
    title                    text,
    internal_commitment_date date,
    client_commitment_date   date,
    created_by               text,
    opened_at                timestamptz,   -- occurred_at of EventOpened
    closed_at                timestamptz,
    closed_by                text
);
CREATE INDEX rpt_events_client ON rpt_events (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX rpt_events_nic ON rpt_events (nic) WHERE nic IS NOT NULL;
CREATE INDEX rpt_events_opened ON rpt_events (opened_at) INCLUDE (created_by, subject_kind, client_id);
CREATE INDEX rpt_events_closed ON rpt_events (closed_at)
    INCLUDE (created_by, subject_kind, client_id, internal_commitment_date, client_commitment_date);
CREATE INDEX rpt_events_open_due ON rpt_events (internal_commitment_date)
    INCLUDE (created_by, subject_kind, client_id, opened_at) WHERE closed_at IS NULL;

CREATE TABLE rpt_tickets (
    ticket_id        uuid PRIMARY KEY,
    event_id         uuid,
    attention_id     uuid,
    code             text,
    subject_kind     text,
    client_id        uuid,
    nic              text,
    responsibility   text,
    responsible_id   text,
    responsible_name text,
    area             text,
    due_date         date,
    opened_at        timestamptz,   -- occurred_at of TicketAssigned
    status           text NOT NULL DEFAULT 'assigned',
    status_at        timestamptz,   -- time of the latest status change applied (closure, reopen, progress)
    closed_at        timestamptz,   -- latest closure (meaningful while status = 'closed')
    reopen_count     integer NOT NULL DEFAULT 0,
    last_reopened_at timestamptz
);
CREATE INDEX rpt_tickets_client ON rpt_tickets (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX rpt_tickets_nic ON rpt_tickets (nic) WHERE nic IS NOT NULL;
CREATE INDEX rpt_tickets_opened ON rpt_tickets (opened_at)
    INCLUDE (area, responsible_id, subject_kind, client_id);
CREATE INDEX rpt_tickets_closed ON rpt_tickets (closed_at)
    INCLUDE (area, responsible_id, subject_kind, client_id, opened_at, status);
CREATE INDEX rpt_tickets_open_due ON rpt_tickets (due_date)
    INCLUDE (area, responsible_id, subject_kind, client_id, opened_at) WHERE status <> 'closed';

-- Reopens are kept one row per reopen event: how many happened in a period is a count, not a guess.
CREATE TABLE rpt_ticket_reopens (
    ticket_id   uuid NOT NULL,
    reopened_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, reopened_at)
);

CREATE TABLE rpt_work_orders (
    work_order_id uuid PRIMARY KEY,
    ticket_id     uuid NOT NULL,
    code          text NOT NULL,
    status        text NOT NULL,
    work_type     text NOT NULL,
    nic           text,
    area          text,
    changed_at    timestamptz NOT NULL
);
CREATE INDEX rpt_work_orders_ticket ON rpt_work_orders (ticket_id);

-- migrate:down
DROP TABLE rpt_work_orders;
DROP TABLE rpt_ticket_reopens;
DROP TABLE rpt_tickets;
DROP TABLE rpt_events;
DROP TABLE rpt_attentions;
DROP TABLE rpt_supply_points;
DROP TABLE rpt_client_access;
DROP TABLE rpt_clients;
DROP TABLE rpt_staff;

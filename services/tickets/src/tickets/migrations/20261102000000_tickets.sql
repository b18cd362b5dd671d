-- migrate:up

-- Tickets, materialized from attentions.ticket.requested and moved by COMANDA's status changes.
CREATE TABLE tickets (
    id                             uuid PRIMARY KEY,
    code                           text        NOT NULL,
    responsibility                 text        NOT NULL,
    due_date                       date        NOT NULL,
    responsible_id                 text        NOT NULL,
    responsible_name               text        NOT NULL,
    responsible_email              text        NOT NULL,
    responsible_area               text        NOT NULL,
    cc                             jsonb       NOT NULL DEFAULT '[]',
    cc_ids                         text[]      NOT NULL DEFAULT '{}',
    event_id                       uuid        NOT NULL,
    event_code                     text        NOT NULL,
    event_title                    text        NOT NULL,
    event_internal_commitment_date date        NOT NULL,
    attention_id                   uuid        NOT NULL,
    attention_code                 text        NOT NULL,
    subject_kind                   text        NOT NULL CHECK (subject_kind IN ('client', 'supply_point')),
    client_id                      uuid,
    nic                            text,
    subject_name                   text        NOT NULL,
    requested_by                   text        NOT NULL,
    requested_at                   timestamptz NOT NULL,
    status                         text        NOT NULL DEFAULT 'assigned'
        CHECK (status IN ('assigned', 'accepted', 'in_progress', 'closed', 'reopened')),
    -- The highest COMANDA sequence applied (or dropped as unchanged) for this ticket; 0 before any.
    last_sequence                  integer     NOT NULL DEFAULT 0,
    status_changed_at              timestamptz NOT NULL,
    resolution                     text,
    closed_at                      timestamptz,
    closed_by                      text,
    reopen_reason                  text,
    created_at                     timestamptz NOT NULL DEFAULT now(),
    updated_at                     timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
-- fillfactor 70: a ticket is updated a few times (COMANDA's changes) and no indexed column changes, so
-- the new row version fits on its page and the update is HOT: none of the indexes below is touched. This
-- more than halves the cost of applying a batch of closures.
CREATE INDEX tickets_code ON tickets (code);
CREATE INDEX tickets_due ON tickets (due_date, code);
CREATE INDEX tickets_responsible ON tickets (responsible_id);
CREATE INDEX tickets_area ON tickets (responsible_area);
CREATE INDEX tickets_cc ON tickets USING gin (cc_ids);
CREATE INDEX tickets_client ON tickets (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX tickets_nic ON tickets (nic) WHERE nic IS NOT NULL;
CREATE INDEX tickets_event ON tickets (event_id);
CREATE INDEX tickets_attention ON tickets (attention_id);

-- One row per applied transition: the creation (sequence 0) and each COMANDA change that moved the status.
-- The unique keys make a second application of one change impossible, whatever the code above does.
CREATE TABLE ticket_transitions (
    id               bigserial PRIMARY KEY,
    ticket_id        uuid        NOT NULL REFERENCES tickets (id),
    sequence         integer     NOT NULL,
    from_status      text,
    to_status        text        NOT NULL,
    comanda_event_id text UNIQUE,
    changed_at       timestamptz NOT NULL,
    changed_by       text,
    note             text,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, sequence)
);

-- COMANDA changes of tickets this service does not know yet (the request travels on another topic and can
-- arrive later). Applied, in sequence order, when the ticket is materialized.
CREATE TABLE comanda_pending (
    comanda_event_id text PRIMARY KEY,
    envelope_id      uuid        NOT NULL,
    correlation_id   uuid,
    ticket_id        uuid        NOT NULL,
    sequence         integer     NOT NULL,
    status           text        NOT NULL,
    changed_at       timestamptz NOT NULL,
    changed_by       text,
    resolution       text,
    reason           text,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comanda_pending_ticket ON comanda_pending (ticket_id, sequence);

-- COMANDA changes received but not applied, and why: a duplicate comanda_event_id, a stale sequence, the
-- status the ticket already has, a reopen of a ticket that is not closed. For operators; nothing reads it.
CREATE TABLE comanda_dropped (
    id               bigserial PRIMARY KEY,
    comanda_event_id text        NOT NULL,
    envelope_id      uuid        NOT NULL,
    ticket_id        uuid        NOT NULL,
    sequence         integer     NOT NULL,
    status           text        NOT NULL,
    reason           text        NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comanda_dropped_ticket ON comanda_dropped (ticket_id);

-- Who may see each client (projection of attentions.client_access.granted / revoked). A row is kept on
-- revocation (granted = false) so that a late, older grant (a replay) cannot bring access back.
CREATE TABLE client_access (
    client_id  uuid        NOT NULL,
    user_id    text        NOT NULL,
    granted    boolean     NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, user_id)
);
CREATE INDEX client_access_user ON client_access (user_id) WHERE granted;

-- Technical work orders (órdenes de trabajo técnicas) attached to tickets of the technical department.
CREATE SEQUENCE work_order_numbers;
CREATE TABLE work_orders (
    id                uuid PRIMARY KEY,
    code              text        NOT NULL UNIQUE,
    ticket_id         uuid        NOT NULL REFERENCES tickets (id),
    area              text        NOT NULL,
    work_type         text        NOT NULL
        CHECK (work_type IN ('inspection', 'meter_change', 'reconnection', 'line_work', 'other')),
    nic               text,
    address           text,
    description       text        NOT NULL,
    requested_date    date        NOT NULL,
    crew_notes        text,
    status            text        NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'in_execution', 'completed',
                          'cancelled')),
    completion_report text,
    created_by        text        NOT NULL,
    created_by_name   text        NOT NULL,
    decided_by        text,
    decided_by_name   text,
    decided_at        timestamptz,
    decision_comment  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (nic IS NOT NULL OR address IS NOT NULL)
);
CREATE INDEX work_orders_ticket ON work_orders (ticket_id);
CREATE INDEX work_orders_status ON work_orders (status, requested_date);
CREATE INDEX work_orders_requested ON work_orders (requested_date, code);

-- The audit trail: every transition of every work order, with who, when, from, to and the comment.
CREATE TABLE work_order_transitions (
    id            bigserial PRIMARY KEY,
    work_order_id uuid        NOT NULL REFERENCES work_orders (id),
    transition    text        NOT NULL,
    from_status   text,
    to_status     text        NOT NULL,
    actor_id      text        NOT NULL,
    actor_name    text        NOT NULL,
    comment       text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_order_transitions_order ON work_order_transitions (work_order_id, id);

-- migrate:down
DROP TABLE work_order_transitions;
DROP TABLE work_orders;
DROP SEQUENCE work_order_numbers;
DROP TABLE client_access;
DROP TABLE comanda_dropped;
DROP TABLE comanda_pending;
DROP TABLE ticket_transitions;
DROP TABLE tickets;

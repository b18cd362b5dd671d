-- migrate:up
-- The committed watermark: every source row up to (source_updated_at, source_key), in that order, has
-- been published and acknowledged by the broker. One row.
CREATE TABLE sync_watermark (
    id                smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    source_updated_at timestamptz NOT NULL,
    source_key        jsonb,          -- the source's row key, JSON so that its type (number, text) survives
    run_id            bigint,
    committed_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per run, scheduled or on demand; counters are updated with each committed batch.
CREATE TABLE sync_runs (
    run_id          bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('incremental', 'full')),
    trigger         text NOT NULL,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    correlation_id  uuid NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    rows_read       bigint NOT NULL DEFAULT 0,
    published       bigint NOT NULL DEFAULT 0,
    quarantined     bigint NOT NULL DEFAULT 0,
    retired         bigint NOT NULL DEFAULT 0,
    watermark_from  jsonb,
    watermark_to    jsonb,
    error           text
);
CREATE INDEX sync_runs_started ON sync_runs (started_at DESC);

-- Source rows that could not be published, by source key: why, and the row as read.
CREATE TABLE sync_quarantine (
    source_key        text PRIMARY KEY,
    nic               text,
    reasons           text[] NOT NULL,
    raw               jsonb NOT NULL,
    source_updated_at timestamptz,
    first_run_id      bigint,
    last_run_id       bigint,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    times_seen        integer NOT NULL DEFAULT 1,
    resolved_at       timestamptz    -- set when a later version of the row was valid and published
);
CREATE INDEX sync_quarantine_open ON sync_quarantine (last_seen_at DESC) WHERE resolved_at IS NULL;

-- What was last published per NIC (written before the publish, so it is never behind what a replica may
-- hold): full reconciliation republishes what differs and retires what is gone from the source.
CREATE TABLE sync_known_supply_points (
    nic                text PRIMARY KEY,
    digest             bigint NOT NULL,
    connection_status  text NOT NULL,
    source_updated_at  timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);

-- NICs seen by the reconciliation scan in progress (one run at a time; emptied when a scan starts).
CREATE UNLOGGED TABLE sync_reconcile_seen (nic text NOT NULL);

-- migrate:down
DROP TABLE sync_reconcile_seen;
DROP TABLE sync_known_supply_points;
DROP TABLE sync_quarantine;
DROP TABLE sync_runs;
DROP TABLE sync_watermark;

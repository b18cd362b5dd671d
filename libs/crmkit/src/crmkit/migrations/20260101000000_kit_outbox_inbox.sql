-- migrate:up
-- Transactional outbox: a service inserts the events a change causes in the same transaction as the change.
CREATE TABLE kit_outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    partition_key text        NOT NULL,
    event_type    text        NOT NULL,
    schema_version int        NOT NULL,
    producer      text        NOT NULL,
    correlation_id uuid,
    value         bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
-- The relay only ever looks at what is not yet published, in id order.
CREATE INDEX kit_outbox_unpublished ON kit_outbox (id) WHERE published_at IS NULL;
-- Pruning goes by age; an index on published_at would be one more index write per published row.
CREATE INDEX kit_outbox_created_at ON kit_outbox (created_at);

-- Idempotent consumer: an event id is recorded in the same transaction as its effect.
CREATE TABLE kit_processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX kit_processed_events_processed_at ON kit_processed_events (processed_at);

-- migrate:down
DROP TABLE kit_processed_events;
DROP TABLE kit_outbox;

-- migrate:up
-- No uniqueness on purpose: an event applied twice would show as two rows.
CREATE TABLE effects (
    id        bigserial PRIMARY KEY,
    event_id  uuid NOT NULL,
    aggregate text NOT NULL,
    seq       int  NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE effects;

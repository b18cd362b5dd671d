-- migrate:up
-- Idempotency keys: a write sent with an `Idempotency-Key` header stores its answer in the same transaction
-- as its effect; the same request sent again (a retry after a lost answer, a double submit) gets that
-- answer back and changes nothing. Keys are per caller.
CREATE TABLE kit_idempotency_keys (
    caller       text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    status_code  int         NOT NULL,
    media_type   text        NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
CREATE INDEX kit_idempotency_keys_created_at ON kit_idempotency_keys (created_at);

-- migrate:down
DROP TABLE kit_idempotency_keys;

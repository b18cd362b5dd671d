-- migrate:up
CREATE TABLE pings (
    id        bigserial PRIMARY KEY,
    aggregate text NOT NULL,
    seq       int  NOT NULL,
    UNIQUE (aggregate, seq)
);

-- migrate:down
DROP TABLE pings;

-- migrate:up
-- A test replica of the supply points, shaped like the attentions service's (without its trigram indexes).
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

-- migrate:down
DROP TABLE supply_points;

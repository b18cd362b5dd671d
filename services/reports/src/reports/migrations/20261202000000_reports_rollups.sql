-- migrate:up
-- Daily, monthly and yearly rollups of the read model, maintained by triggers in the transaction that
-- changes a row, so they are exactly as fresh (and as idempotent) as the rows themselves (docs/reports.md,
-- "Rollups").
--
-- An item (attention, event, ticket) contributes signed counts to the local days (America/El_Salvador) its
-- figures change on; a figure of a period is a sum over the period's days, and "open at the end" and
-- "overdue" are running sums up to the as-of day:
--   opened         +1 on the opening day
--   closed         +1 on the closure day (closed_us: closure minus opening, microseconds; internal_kept /
--                  client_kept: +1 when that day is on or before the commitment date)
--   open_delta     +1 on the opening day, -1 on the closure day (never before the opening day)
--   overdue_delta  +1 on the first day it is overdue (the day after the due date, not before the opening
--                  day), -1 on the closure day when that comes later
-- Each contribution is added to its day ('d'), its month ('m', day = the 1st) and its year ('y', day =
-- January 1st), so any period is read as a few signed buckets (reports.domain.buckets): a calendar year is
-- one year row per group, the last 365 days a year, a month and a few days.

-- family 'attention' (k1 channel), 'event' (k1 created_by), 'ticket' (k1 area, k2 responsible_id,
-- k3 responsible_name): class is 'supply_point' or 'client' (what access control needs).
-- family 'kind' (k1 = 'attention' | 'event' | 'ticket'): class is the client kind of the subject now
-- ('supply_point', 'prospect', 'stakeholder', 'internal', 'unknown'); moves when a client's kind changes.
CREATE TABLE rpt_rollups (
    family        text   NOT NULL,
    grain         text   NOT NULL,
    day           date   NOT NULL,
    class         text   NOT NULL,
    k1            text,
    k2            text,
    k3            text,
    opened        bigint NOT NULL,
    closed        bigint NOT NULL,
    closed_us     bigint NOT NULL,
    open_delta    bigint NOT NULL,
    overdue_delta bigint NOT NULL,
    internal_kept bigint NOT NULL,
    client_kept   bigint NOT NULL,
    CONSTRAINT rpt_rollups_key UNIQUE NULLS NOT DISTINCT (family, grain, day, class, k1, k2, k3)
) WITH (fillfactor = 80);  -- room on each page for the frequent in-place (HOT) updates of a row

-- What the rollups need of one row, whatever its table. closed_at is set only when the item is closed now
-- (a reopened ticket keeps its last closed_at but is open).
CREATE TYPE rpt_item AS (
    fact         text,
    subject_kind text,
    client_id    uuid,
    opened_at    timestamptz,
    closed_at    timestamptz,
    due          date,          -- event: internal commitment date; ticket: due date
    client_due   date,          -- event: client commitment date
    k1           text,
    k2           text,
    k3           text
);

CREATE FUNCTION rpt_item(x rpt_attentions) RETURNS rpt_item LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW('attention', x.subject_kind, x.client_id, x.opened_at, x.closed_at, NULL, NULL, x.channel,
               NULL, NULL)::rpt_item
$$;

CREATE FUNCTION rpt_item(x rpt_events) RETURNS rpt_item LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW('event', x.subject_kind, x.client_id, x.opened_at, x.closed_at, x.internal_commitment_date,
               x.client_commitment_date, x.created_by, NULL, NULL)::rpt_item
$$;

CREATE FUNCTION rpt_item(x rpt_tickets) RETURNS rpt_item LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW('ticket', x.subject_kind, x.client_id, x.opened_at,
               CASE WHEN x.status = 'closed' THEN x.closed_at END, x.due_date, NULL, COALESCE(x.area, ''),
               x.responsible_id, x.responsible_name)::rpt_item
$$;

-- Every item of the read model (the rollups are a sum over this).
CREATE VIEW rpt_items AS
    SELECT rpt_item(a) AS item FROM rpt_attentions a
    UNION ALL SELECT rpt_item(e) FROM rpt_events e
    UNION ALL SELECT rpt_item(t) FROM rpt_tickets t;

-- The signed contributions of one item, per local day (see the top of this file). An item whose opening
-- has not arrived yet contributes nothing: it is in no report until it does. (Written as a constant list
-- of five contribution kinds and CASEs, not as a VALUES list of expressions: PostgreSQL compiles such a
-- VALUES list again for every item, which made this three times slower.)
CREATE FUNCTION rpt_contributions(opened_at timestamptz, closed_at timestamptz, due date, client_due date)
RETURNS TABLE (day date, opened int, closed int, closed_us bigint, open_delta int, overdue_delta int,
               internal_kept int, client_kept int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (
        SELECT CASE k.n WHEN 1 THEN d.od
                        WHEN 2 THEN d.cd
                        WHEN 3 THEN CASE WHEN d.cd IS NOT NULL THEN GREATEST(d.od, d.cd) END
                        WHEN 4 THEN CASE WHEN d.cd IS NULL OR d.cd > d.od_due THEN d.od_due END
                        ELSE CASE WHEN d.cd > d.od_due THEN d.cd END END AS day,
               (k.n = 1)::int AS opened,
               (k.n = 2)::int AS closed,
               CASE WHEN k.n = 2 THEN round(date_part('epoch', closed_at - opened_at) * 1000000)::bigint
                    ELSE 0 END AS closed_us,
               CASE k.n WHEN 1 THEN 1 WHEN 3 THEN -1 ELSE 0 END AS open_delta,
               CASE k.n WHEN 4 THEN 1 WHEN 5 THEN -1 ELSE 0 END AS overdue_delta,
               CASE WHEN k.n = 2 AND d.cd <= due THEN 1 ELSE 0 END AS internal_kept,
               CASE WHEN k.n = 2 AND d.cd <= client_due THEN 1 ELSE 0 END AS client_kept
        FROM (SELECT od, cd, CASE WHEN due IS NOT NULL THEN GREATEST(od, due + 1) END AS od_due
              FROM (SELECT (opened_at AT TIME ZONE 'America/El_Salvador')::date AS od,
                           (closed_at AT TIME ZONE 'America/El_Salvador')::date AS cd
                    OFFSET 0) d0  -- OFFSET 0: each local day is computed once per item
              OFFSET 0) d
        CROSS JOIN (VALUES (1), (2), (3), (4), (5)) k (n)  -- opening, closure, end of open, overdue from, to
        WHERE opened_at IS NOT NULL
        OFFSET 0) c
    WHERE c.day IS NOT NULL
$$;

-- The client kind of a row's subject (the overview's "by client kind"), from its client's record if any.
CREATE FUNCTION rpt_client_kind(subject_kind text, kind text, internal boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN subject_kind = 'supply_point' THEN 'supply_point' WHEN internal THEN 'internal'
                ELSE COALESCE(kind, 'unknown') END
$$;

-- The day-level rollup rows one item adds to (its own family and the kind family), with its subject's
-- client kind.
CREATE FUNCTION rpt_facts(i rpt_item, client_kind text)
RETURNS TABLE (family text, class text, k1 text, k2 text, k3 text, day date, opened int, closed int,
               closed_us bigint, open_delta int, overdue_delta int, internal_kept int, client_kept int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x.main THEN i.fact ELSE 'kind' END,
           CASE WHEN NOT x.main THEN client_kind
                WHEN i.subject_kind = 'supply_point' THEN 'supply_point' ELSE 'client' END,
           CASE WHEN x.main THEN i.k1 ELSE i.fact END,
           CASE WHEN x.main THEN i.k2 END,
           CASE WHEN x.main THEN i.k3 END,
           c.day, c.opened, c.closed, c.closed_us, c.open_delta, c.overdue_delta,
           CASE WHEN i.fact = 'event' THEN c.internal_kept ELSE 0 END,
           CASE WHEN i.fact = 'event' THEN c.client_kept ELSE 0 END
    FROM rpt_contributions(i.opened_at, i.closed_at, i.due, i.client_due) c
    CROSS JOIN (VALUES (true), (false)) x (main)
$$;

-- The first day of the grain's bucket that holds ``day``.
CREATE FUNCTION rpt_bucket(grain text, day date) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE grain WHEN 'd' THEN day
                      WHEN 'm' THEN day - date_part('day', day)::int + 1
                      ELSE day - date_part('doy', day)::int + 1 END
$$;

-- What the rollups must hold, computed from the rows (used to fill them, and by the tests to check them):
-- the day rows, then the months and years from them.
CREATE VIEW rpt_rollups_expected AS
    WITH days AS (
        SELECT f.family, f.day, f.class, f.k1, f.k2, f.k3, sum(f.opened)::bigint AS opened,
               sum(f.closed)::bigint AS closed, sum(f.closed_us)::bigint AS closed_us,
               sum(f.open_delta)::bigint AS open_delta, sum(f.overdue_delta)::bigint AS overdue_delta,
               sum(f.internal_kept)::bigint AS internal_kept, sum(f.client_kept)::bigint AS client_kept
        FROM rpt_items i
        LEFT JOIN rpt_clients c ON c.client_id = (i.item).client_id
        CROSS JOIN LATERAL rpt_facts(i.item, rpt_client_kind((i.item).subject_kind, c.kind, c.internal)) f
        GROUP BY 1, 2, 3, 4, 5, 6
    )
    SELECT family, 'd' AS grain, day, class, k1, k2, k3, opened, closed, closed_us, open_delta, overdue_delta,
           internal_kept, client_kept
    FROM days
    WHERE opened <> 0 OR closed <> 0 OR closed_us <> 0 OR open_delta <> 0 OR overdue_delta <> 0
       OR internal_kept <> 0 OR client_kept <> 0
    UNION ALL
    SELECT d.family, g.grain, rpt_bucket(g.grain, d.day), d.class, d.k1, d.k2, d.k3,
           sum(d.opened)::bigint, sum(d.closed)::bigint, sum(d.closed_us)::bigint, sum(d.open_delta)::bigint,
           sum(d.overdue_delta)::bigint, sum(d.internal_kept)::bigint, sum(d.client_kept)::bigint
    FROM days d CROSS JOIN (VALUES ('m'), ('y')) g (grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(d.opened) <> 0 OR sum(d.closed) <> 0 OR sum(d.closed_us) <> 0 OR sum(d.open_delta) <> 0
        OR sum(d.overdue_delta) <> 0 OR sum(d.internal_kept) <> 0 OR sum(d.client_kept) <> 0;

-- The figures of one item in a period, counted directly (what an agent's clients add to the overview;
-- the same numbers as its contributions summed over the period's buckets): opened or closed in [first,
-- last], open at the end of as_of, overdue then.
CREATE FUNCTION rpt_item_figures(i rpt_item, client_kind text, first date, last date, as_of date)
RETURNS TABLE (family text, class text, k1 text, k2 text, k3 text, opened int, closed int, closed_us bigint,
               internal_kept int, client_kept int, open_at_end int, overdue int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x.main THEN i.fact ELSE 'kind' END,
           CASE WHEN NOT x.main THEN client_kind
                WHEN i.subject_kind = 'supply_point' THEN 'supply_point' ELSE 'client' END,
           CASE WHEN x.main THEN i.k1 ELSE i.fact END,
           CASE WHEN x.main THEN i.k2 END,
           CASE WHEN x.main THEN i.k3 END,
           (d.od BETWEEN first AND last)::int,
           COALESCE(d.cd BETWEEN first AND last, false)::int,
           CASE WHEN d.cd BETWEEN first AND last
                THEN round(date_part('epoch', i.closed_at - i.opened_at) * 1000000)::bigint ELSE 0 END,
           COALESCE(i.fact = 'event' AND d.cd BETWEEN first AND last AND d.cd <= i.due, false)::int,
           COALESCE(i.fact = 'event' AND d.cd BETWEEN first AND last AND d.cd <= i.client_due, false)::int,
           (d.od <= as_of AND d.open_at_as_of)::int,
           COALESCE(d.od <= as_of AND d.open_at_as_of AND i.due < as_of, false)::int
    FROM (SELECT (i.opened_at AT TIME ZONE 'America/El_Salvador')::date AS od,
                 (i.closed_at AT TIME ZONE 'America/El_Salvador')::date AS cd,
                 i.closed_at IS NULL OR (i.closed_at AT TIME ZONE 'America/El_Salvador')::date > as_of
                     AS open_at_as_of
          OFFSET 0) d
    CROSS JOIN (VALUES (true), (false)) x (main)
    WHERE i.opened_at IS NOT NULL
$$;

-- Row changes do not write the rollups one by one (a dozen upserts per row made the projection ~15 times
-- slower): a row trigger queues the old row's contribution (sign -1) and the new row's (+1), and at commit
-- a deferred trigger folds the transaction's queue into the rollups, netted per rollup row, in one
-- statement. The queue is empty outside a transaction (so unlogged: nothing in it outlives a crash).
CREATE UNLOGGED TABLE rpt_rollup_queue (
    sign         int  NOT NULL,
    kind         text NOT NULL,   -- the subject's client kind when queued (the kind family's class)
    -- an rpt_item, column by column (a composite column would be taken apart again for every field read)
    fact         text NOT NULL,
    subject_kind text,
    client_id    uuid,
    opened_at    timestamptz NOT NULL,
    closed_at    timestamptz,
    due          date,
    client_due   date,
    k1           text,
    k2           text,
    k3           text
);

-- One row per transaction with a queue to fold: the deferred trigger hangs on it, so it fires once per
-- transaction, not once per queued row.
CREATE UNLOGGED TABLE rpt_rollup_pending (since timestamptz NOT NULL DEFAULT now());

-- Fold every queued contribution into the rollups (the queue holds only this transaction's rows).
-- JIT off: compiling this statement would cost more than running it on a batch.
CREATE FUNCTION rpt_rollups_flush() RETURNS void LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    PERFORM set_config('rpt.rollups_pending', 'off', true);
    DELETE FROM rpt_rollup_pending;
    WITH queued AS (DELETE FROM rpt_rollup_queue RETURNING *)
    INSERT INTO rpt_rollups AS r (family, grain, day, class, k1, k2, k3, opened, closed, closed_us, open_delta,
                                  overdue_delta, internal_kept, client_kept)
    SELECT f.family, g.grain, rpt_bucket(g.grain, f.day), f.class, f.k1, f.k2, f.k3,
           sum(q.sign * f.opened), sum(q.sign * f.closed), sum(q.sign * f.closed_us), sum(q.sign * f.open_delta),
           sum(q.sign * f.overdue_delta), sum(q.sign * f.internal_kept), sum(q.sign * f.client_kept)
    FROM queued q
    CROSS JOIN LATERAL rpt_facts(ROW(q.fact, q.subject_kind, q.client_id, q.opened_at, q.closed_at, q.due,
                                     q.client_due, q.k1, q.k2, q.k3)::rpt_item, q.kind) f
    CROSS JOIN (VALUES ('d'), ('m'), ('y')) g (grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(q.sign * f.opened) <> 0 OR sum(q.sign * f.closed) <> 0 OR sum(q.sign * f.closed_us) <> 0
        OR sum(q.sign * f.open_delta) <> 0 OR sum(q.sign * f.overdue_delta) <> 0
        OR sum(q.sign * f.internal_kept) <> 0 OR sum(q.sign * f.client_kept) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7  -- one lock order for concurrent writers
    ON CONFLICT (family, grain, day, class, k1, k2, k3) DO UPDATE SET
        opened = r.opened + EXCLUDED.opened, closed = r.closed + EXCLUDED.closed,
        closed_us = r.closed_us + EXCLUDED.closed_us, open_delta = r.open_delta + EXCLUDED.open_delta,
        overdue_delta = r.overdue_delta + EXCLUDED.overdue_delta,
        internal_kept = r.internal_kept + EXCLUDED.internal_kept,
        client_kept = r.client_kept + EXCLUDED.client_kept;
END
$$;

CREATE FUNCTION rpt_rollups_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rpt.rollups_pending', true) = 'on' THEN
        PERFORM rpt_rollups_flush();
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER rpt_rollup_pending_commit AFTER INSERT ON rpt_rollup_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rpt_rollups_commit();

-- The first queued row of a transaction (since its last fold) registers the fold at commit.
CREATE FUNCTION rpt_rollups_pending() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('rpt.rollups_pending', 'on', true);
    INSERT INTO rpt_rollup_pending DEFAULT VALUES;
END
$$;

-- A row's client kind is read when it is queued, and a client's kind change moves the contributions of the
-- client's rows: both hold an advisory lock on the client until commit (shared by row changes, exclusive
-- by the kind change), taken before the statement that reads the kind, so a row committed concurrently
-- with a kind change is never left under the old kind. The two-int4 form of advisory lock keys is its own
-- key space (the kit's relay uses the bigint form).
CREATE FUNCTION rpt_rollups_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_item rpt_item;
    new_item rpt_item;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_item := rpt_item(OLD);
        IF old_item.client_id IS NOT NULL AND old_item.subject_kind IS DISTINCT FROM 'supply_point' THEN
            PERFORM pg_advisory_xact_lock_shared(1920496689, hashtext(old_item.client_id::text));
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_item := rpt_item(NEW);
        IF new_item.client_id IS NOT NULL AND new_item.subject_kind IS DISTINCT FROM 'supply_point'
           AND new_item.client_id IS DISTINCT FROM old_item.client_id THEN
            PERFORM pg_advisory_xact_lock_shared(1920496689, hashtext(new_item.client_id::text));
        END IF;
    END IF;
    INSERT INTO rpt_rollup_queue
    SELECT q.sign, rpt_client_kind((q.i).subject_kind, c.kind, c.internal), (q.i).*
    FROM (VALUES (-1, old_item), (1, new_item)) q (sign, i)
    LEFT JOIN rpt_clients c ON c.client_id = (q.i).client_id
    WHERE (q.i).opened_at IS NOT NULL;  -- an item not opened yet contributes nothing
    IF FOUND AND current_setting('rpt.rollups_pending', true) IS DISTINCT FROM 'on' THEN
        PERFORM rpt_rollups_pending();
    END IF;
    RETURN NULL;
END
$$;

-- Updates that change nothing the rollups see (a ticket accepted, a title edited) do not fire.
CREATE TRIGGER rpt_attentions_rollup AFTER INSERT OR DELETE ON rpt_attentions
    FOR EACH ROW EXECUTE FUNCTION rpt_rollups_row_changed();
CREATE TRIGGER rpt_attentions_rollup_update AFTER UPDATE ON rpt_attentions
    FOR EACH ROW WHEN (rpt_item(OLD) IS DISTINCT FROM rpt_item(NEW)) EXECUTE FUNCTION rpt_rollups_row_changed();
CREATE TRIGGER rpt_events_rollup AFTER INSERT OR DELETE ON rpt_events
    FOR EACH ROW EXECUTE FUNCTION rpt_rollups_row_changed();
CREATE TRIGGER rpt_events_rollup_update AFTER UPDATE ON rpt_events
    FOR EACH ROW WHEN (rpt_item(OLD) IS DISTINCT FROM rpt_item(NEW)) EXECUTE FUNCTION rpt_rollups_row_changed();
CREATE TRIGGER rpt_tickets_rollup AFTER INSERT OR DELETE ON rpt_tickets
    FOR EACH ROW EXECUTE FUNCTION rpt_rollups_row_changed();
CREATE TRIGGER rpt_tickets_rollup_update AFTER UPDATE ON rpt_tickets
    FOR EACH ROW WHEN (rpt_item(OLD) IS DISTINCT FROM rpt_item(NEW)) EXECUTE FUNCTION rpt_rollups_row_changed();

-- A client's kind changed (or the client arrived after its rows): move the kind family's contributions of
-- its rows from the old kind to the new one. Rows of this transaction still queued under the old kind
-- net out: the move subtracts them from the old kind in the rollups and the flush adds them back there.
CREATE FUNCTION rpt_clients_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_kind text := 'unknown';
    new_kind text := 'unknown';
    target   uuid := COALESCE(NEW.client_id, OLD.client_id);
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_kind := rpt_client_kind('client', OLD.kind, OLD.internal);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_kind := rpt_client_kind('client', NEW.kind, NEW.internal);
    END IF;
    IF old_kind IS NOT DISTINCT FROM new_kind THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(1920496689, hashtext(target::text));
    INSERT INTO rpt_rollup_queue
    SELECT s.sign, s.kind, (i.item).*
    FROM rpt_items i CROSS JOIN (VALUES (-1, old_kind), (1, new_kind)) s (sign, kind)
    WHERE (i.item).client_id = target AND (i.item).subject_kind IS DISTINCT FROM 'supply_point'
      AND (i.item).opened_at IS NOT NULL;
    IF FOUND AND current_setting('rpt.rollups_pending', true) IS DISTINCT FROM 'on' THEN
        PERFORM rpt_rollups_pending();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rpt_clients_rollup AFTER INSERT OR UPDATE OR DELETE ON rpt_clients
    FOR EACH ROW EXECUTE FUNCTION rpt_clients_rollup();

-- The rows already in the read model (in key order: the rows a report reads together sit together).
SET LOCAL work_mem = '256MB';
INSERT INTO rpt_rollups SELECT * FROM rpt_rollups_expected ORDER BY family, grain, day;

-- migrate:down
DROP TRIGGER rpt_clients_rollup ON rpt_clients;
DROP TRIGGER rpt_tickets_rollup_update ON rpt_tickets;
DROP TRIGGER rpt_tickets_rollup ON rpt_tickets;
DROP TRIGGER rpt_events_rollup_update ON rpt_events;
DROP TRIGGER rpt_events_rollup ON rpt_events;
DROP TRIGGER rpt_attentions_rollup_update ON rpt_attentions;
DROP TRIGGER rpt_attentions_rollup ON rpt_attentions;
DROP TABLE rpt_rollup_pending;
DROP TABLE rpt_rollup_queue;
DROP FUNCTION rpt_clients_rollup();
DROP FUNCTION rpt_rollups_row_changed();
DROP FUNCTION rpt_rollups_pending();
DROP FUNCTION rpt_rollups_commit();
DROP FUNCTION rpt_rollups_flush();
DROP VIEW rpt_rollups_expected;
DROP FUNCTION rpt_item_figures(rpt_item, text, date, date, date);
DROP FUNCTION rpt_bucket(text, date);
DROP FUNCTION rpt_facts(rpt_item, text);
DROP FUNCTION rpt_client_kind(text, text, boolean);
DROP FUNCTION rpt_contributions(timestamptz, timestamptz, date, date);
DROP VIEW rpt_items;
DROP FUNCTION rpt_item(rpt_tickets);
DROP FUNCTION rpt_item(rpt_events);
DROP FUNCTION rpt_item(rpt_attentions);
DROP TYPE rpt_item;
DROP TABLE rpt_rollups;

-- migrate:up

-- A COMANDA closure updates its ticket's status columns (none indexed). With room on the page the new row
-- version is a HOT update: no index entry is written. At fillfactor 70 a page of ~13 tickets has room for
-- ~5 new versions, so a burst of closures of tickets created together (the same pages) found the page full
-- for most of them and wrote a new entry in each of the 9 indexes: 7 WAL records instead of 1 per closure.
-- At 50 every ticket of a page can move once before the page is pruned (benchmarks/tickets_bench.py).
ALTER TABLE tickets SET (fillfactor = 50);

-- The foreign key's check (a lookup and a row lock on the ticket for every transition row) cost more than
-- the insert itself. Every transition is written in the transaction that read the ticket under its
-- advisory lock (or inserted it), and tickets are never deleted; tests check there is no orphan.
ALTER TABLE ticket_transitions DROP CONSTRAINT ticket_transitions_ticket_id_fkey;

-- A transition is identified by its ticket and sequence; the surrogate id was one more index entry and a
-- sequence call per row that nothing reads (the history is ordered by sequence).
ALTER TABLE ticket_transitions DROP CONSTRAINT ticket_transitions_pkey;
ALTER TABLE ticket_transitions DROP CONSTRAINT ticket_transitions_ticket_id_sequence_key;
ALTER TABLE ticket_transitions ADD PRIMARY KEY (ticket_id, sequence);
ALTER TABLE ticket_transitions DROP COLUMN id;

-- COMANDA's ids are compared byte by byte (the unique keys already meant exactly that); with the database's
-- default collation every comparison in a descent of these indexes went through the C library's collation.
ALTER TABLE ticket_transitions ALTER COLUMN comanda_event_id TYPE text COLLATE "C";
ALTER TABLE comanda_pending ALTER COLUMN comanda_event_id TYPE text COLLATE "C";

-- migrate:down
ALTER TABLE comanda_pending ALTER COLUMN comanda_event_id TYPE text COLLATE "default";
ALTER TABLE ticket_transitions ALTER COLUMN comanda_event_id TYPE text COLLATE "default";
ALTER TABLE ticket_transitions DROP CONSTRAINT ticket_transitions_pkey;
ALTER TABLE ticket_transitions ADD COLUMN id bigserial PRIMARY KEY;
ALTER TABLE ticket_transitions ADD CONSTRAINT ticket_transitions_ticket_id_sequence_key UNIQUE (ticket_id, sequence);
ALTER TABLE ticket_transitions
    ADD CONSTRAINT ticket_transitions_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES tickets (id);
ALTER TABLE tickets SET (fillfactor = 70);

-- migrate:up
-- The overview reads the rollups now (20261202000000_reports_rollups.sql); these indexes served only its
-- scan of the period's rows, and every projected row paid for them (five or six index writes per row,
-- a closure never a HOT update). The subject report keeps its client and NIC indexes.
DROP INDEX rpt_attentions_opened;
DROP INDEX rpt_attentions_closed;
DROP INDEX rpt_attentions_open;
DROP INDEX rpt_events_opened;
DROP INDEX rpt_events_closed;
DROP INDEX rpt_events_open_due;
DROP INDEX rpt_tickets_opened;
DROP INDEX rpt_tickets_closed;
DROP INDEX rpt_tickets_open_due;

-- migrate:down
CREATE INDEX rpt_attentions_opened ON rpt_attentions (opened_at) INCLUDE (channel, subject_kind, client_id);
CREATE INDEX rpt_attentions_closed ON rpt_attentions (closed_at) INCLUDE (channel, subject_kind, client_id);
CREATE INDEX rpt_attentions_open ON rpt_attentions (opened_at) INCLUDE (channel, subject_kind, client_id)
    WHERE closed_at IS NULL;
CREATE INDEX rpt_events_opened ON rpt_events (opened_at) INCLUDE (created_by, subject_kind, client_id);
CREATE INDEX rpt_events_closed ON rpt_events (closed_at)
    INCLUDE (created_by, subject_kind, client_id, internal_commitment_date, client_commitment_date);
CREATE INDEX rpt_events_open_due ON rpt_events (internal_commitment_date)
    INCLUDE (created_by, subject_kind, client_id, opened_at) WHERE closed_at IS NULL;
CREATE INDEX rpt_tickets_opened ON rpt_tickets (opened_at)
    INCLUDE (area, responsible_id, subject_kind, client_id);
CREATE INDEX rpt_tickets_closed ON rpt_tickets (closed_at)
    INCLUDE (area, responsible_id, subject_kind, client_id, opened_at, status);
CREATE INDEX rpt_tickets_open_due ON rpt_tickets (due_date)
    INCLUDE (area, responsible_id, subject_kind, client_id, opened_at) WHERE status <> 'closed';

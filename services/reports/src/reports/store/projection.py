"""Upserts that project consumed events into the read model.

Order-independent: a row may be created by any of its events (a closure before its opening), each
statement fills only the columns its event knows, and a column group versioned by time is overwritten
only by a newer event. Replaying the topics in any interleaving gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmkit.db import Connection

READ_MODEL_TABLES = (
    "rpt_staff",
    "rpt_clients",
    "rpt_client_access",
    "rpt_supply_points",
    "rpt_attentions",
    "rpt_events",
    "rpt_tickets",
    "rpt_ticket_reopens",
    "rpt_work_orders",
    "rpt_rollups",  # maintained from the rows above (migration *_reports_rollups.sql)
    "rpt_rollup_queue",
    "rpt_rollup_pending",
)

UPSERT_STAFF = """
INSERT INTO rpt_staff (user_id, name, area, changed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, area = EXCLUDED.area,
    changed_at = EXCLUDED.changed_at
WHERE rpt_staff.changed_at <= EXCLUDED.changed_at
"""

UPSERT_CLIENT = """
INSERT INTO rpt_clients (client_id, code, kind, internal, name, changed_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (client_id) DO UPDATE SET code = EXCLUDED.code, kind = EXCLUDED.kind,
    internal = EXCLUDED.internal,
    name = EXCLUDED.name, changed_at = EXCLUDED.changed_at
WHERE rpt_clients.changed_at <= EXCLUDED.changed_at
"""

UPSERT_ACCESS = """
INSERT INTO rpt_client_access (client_id, user_id, granted, changed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, client_id) DO UPDATE SET granted = EXCLUDED.granted, changed_at = EXCLUDED.changed_at
WHERE rpt_client_access.changed_at <= EXCLUDED.changed_at
"""

UPSERT_SUPPLY_POINT = """
INSERT INTO rpt_supply_points (nic, holder, address, tariff, retired, changed_at)
VALUES ($1, $2, $3, $4, false, $5)
ON CONFLICT (nic) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address,
    tariff = EXCLUDED.tariff,
    changed_at = EXCLUDED.changed_at
WHERE rpt_supply_points.changed_at <= EXCLUDED.changed_at
"""

RETIRE_SUPPLY_POINT = """
INSERT INTO rpt_supply_points (nic, holder, address, tariff, retired, changed_at)
VALUES ($1, '', '', '', true, $2)
ON CONFLICT (nic) DO UPDATE SET retired = true
"""

OPEN_ATTENTION = """
INSERT INTO rpt_attentions (attention_id, code, subject_kind, client_id, nic, subject_name, channel, summary,
    registered_by, opened_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (attention_id) DO UPDATE SET code = EXCLUDED.code, subject_kind = EXCLUDED.subject_kind,
    client_id = EXCLUDED.client_id, nic = EXCLUDED.nic, subject_name = EXCLUDED.subject_name,
    channel = EXCLUDED.channel, summary = EXCLUDED.summary, registered_by = EXCLUDED.registered_by,
    opened_at = EXCLUDED.opened_at
"""

CLOSE_ATTENTION = """
INSERT INTO rpt_attentions (attention_id, closed_at, closed_by) VALUES ($1, $2, $3)
ON CONFLICT (attention_id) DO UPDATE SET closed_at = EXCLUDED.closed_at, closed_by = EXCLUDED.closed_by
"""

OPEN_EVENT = """
INSERT INTO rpt_events (event_id, attention_id, code, subject_kind, client_id, nic, title,
    internal_commitment_date, client_commitment_date, created_by, opened_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (event_id) DO UPDATE SET attention_id = EXCLUDED.attention_id, code = EXCLUDED.code,
    subject_kind = EXCLUDED.subject_kind, client_id = EXCLUDED.client_id, nic = EXCLUDED.nic,
    title = EXCLUDED.title, internal_commitment_date = EXCLUDED.internal_commitment_date,
    client_commitment_date = EXCLUDED.client_commitment_date, created_by = EXCLUDED.created_by,
    opened_at = EXCLUDED.opened_at
"""

CLOSE_EVENT = """
INSERT INTO rpt_events (event_id, attention_id, closed_at, closed_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (event_id) DO UPDATE SET closed_at = EXCLUDED.closed_at, closed_by = EXCLUDED.closed_by,
    attention_id = COALESCE(rpt_events.attention_id, EXCLUDED.attention_id)
"""

# The status stays whatever a status event set (a closure may arrive before the assignment).
ASSIGN_TICKET = """
INSERT INTO rpt_tickets (ticket_id, event_id, attention_id, code, subject_kind, client_id, nic,
    responsibility, responsible_id, responsible_name, area, due_date, opened_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (ticket_id) DO UPDATE SET event_id = EXCLUDED.event_id, attention_id = EXCLUDED.attention_id,
    code = EXCLUDED.code, subject_kind = EXCLUDED.subject_kind, client_id = EXCLUDED.client_id,
    nic = EXCLUDED.nic, responsibility = EXCLUDED.responsibility, responsible_id = EXCLUDED.responsible_id,
    responsible_name = EXCLUDED.responsible_name, area = EXCLUDED.area, due_date = EXCLUDED.due_date,
    opened_at = EXCLUDED.opened_at
"""

# The newest status change decides the status; the latest closure is kept (GREATEST skips NULLs).
CHANGE_TICKET_STATUS = """
INSERT INTO rpt_tickets (ticket_id, event_id, attention_id, status, status_at, closed_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (ticket_id) DO UPDATE SET
    status = CASE WHEN rpt_tickets.status_at IS NULL OR EXCLUDED.status_at >= rpt_tickets.status_at
                  THEN EXCLUDED.status ELSE rpt_tickets.status END,
    status_at = GREATEST(rpt_tickets.status_at, EXCLUDED.status_at),
    closed_at = GREATEST(rpt_tickets.closed_at, EXCLUDED.closed_at),
    event_id = COALESCE(rpt_tickets.event_id, EXCLUDED.event_id),
    attention_id = COALESCE(rpt_tickets.attention_id, EXCLUDED.attention_id)
"""

RECORD_REOPEN = """
INSERT INTO rpt_ticket_reopens (ticket_id, reopened_at) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""

UPSERT_WORK_ORDER = """
INSERT INTO rpt_work_orders (work_order_id, ticket_id, code, status, work_type, nic, area, changed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (work_order_id) DO UPDATE SET status = EXCLUDED.status, work_type = EXCLUDED.work_type,
    nic = EXCLUDED.nic, area = EXCLUDED.area, changed_at = EXCLUDED.changed_at
WHERE rpt_work_orders.changed_at <= EXCLUDED.changed_at
"""


async def write(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        await conn.executemany(statement, rows)


async def truncate(conn: Connection, consumer: str) -> None:
    """Drop the whole read model and the consumer's memory of what it applied (a rebuild starts here)."""
    await conn.execute(f"TRUNCATE {', '.join(READ_MODEL_TABLES)}")
    await conn.execute("DELETE FROM kit_processed_events WHERE consumer = $1", consumer)

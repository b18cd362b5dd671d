"""The service's own projections of staff, tickets and events (written by the handlers, read by the
scheduler). No other service's tables are ever read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from crmkit.db import Connection

from notifications.domain.model import EventView, StaffMember, TicketView


async def upsert_staff(conn: Connection, members: Sequence[StaffMember], at: datetime) -> None:
    await conn.executemany(
        """INSERT INTO staff (user_id, name, email, area, manager_id, active, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
               area = EXCLUDED.area, manager_id = EXCLUDED.manager_id, active = EXCLUDED.active,
               updated_at = EXCLUDED.updated_at""",
        [(m.user_id, m.name, m.email, m.area, m.manager_id, m.active, at) for m in members],
    )


async def load_staff(conn: Connection) -> dict[str, StaffMember]:
    rows = await conn.fetch("SELECT user_id, name, email, area, manager_id, active FROM staff")
    return {r["user_id"]: StaffMember(**dict(r)) for r in rows}


async def upsert_tickets(
    conn: Connection, tickets: Sequence[tuple[TicketView, uuid.UUID, list[dict[str, str]]]], at: datetime
) -> None:
    """Tickets from their assignment (view, attention id, CC people). A closed ticket stays closed."""
    await conn.executemany(
        """INSERT INTO tickets (ticket_id, code, responsibility, due_date, responsible_id, responsible_name,
               responsible_email, area, ticket_type, event_id, event_code, event_title, event_internal_date,
               attention_id, attention_code, subject_kind, subject_name, subject_nic, cc, assigned_at,
               updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                   $20, $21)
           ON CONFLICT (ticket_id) DO UPDATE SET code = EXCLUDED.code,
               responsibility = EXCLUDED.responsibility, due_date = EXCLUDED.due_date,
               responsible_id = EXCLUDED.responsible_id, responsible_name = EXCLUDED.responsible_name,
               responsible_email = EXCLUDED.responsible_email, area = EXCLUDED.area,
               ticket_type = EXCLUDED.ticket_type, event_title = EXCLUDED.event_title,
               event_internal_date = EXCLUDED.event_internal_date, cc = EXCLUDED.cc,
               updated_at = EXCLUDED.updated_at""",
        [
            (
                t.ticket_id,
                t.code,
                t.responsibility,
                t.due_date,
                t.responsible_id,
                t.responsible_name,
                t.responsible_email,
                t.area,
                t.ticket_type,
                t.event_id,
                t.event_code,
                t.event_title,
                t.event_internal_date,
                attention_id,
                t.attention_code,
                t.subject_kind,
                t.subject_name,
                t.subject_nic,
                cc,
                t.assigned_at,
                at,
            )
            for t, attention_id, cc in tickets
        ],
    )


async def set_ticket_state(
    conn: Connection, ticket_id: uuid.UUID, status: str, closed: bool, at: datetime
) -> bool:
    """False when the ticket is unknown here."""
    result = await conn.execute(
        """UPDATE tickets SET status = $2::text, closed = $3::boolean,
               closed_at = CASE WHEN $3::boolean THEN $4::timestamptz END, updated_at = $4::timestamptz
           WHERE ticket_id = $1""",
        ticket_id,
        status,
        closed,
        at,
    )
    return result != "UPDATE 0"


_TICKET_COLUMNS = """ticket_id, code, responsibility, due_date, responsible_id, responsible_name,
    responsible_email, area, event_id, event_code, event_title, event_internal_date, attention_code,
    subject_name, subject_kind, subject_nic, ticket_type, assigned_at, closed"""


def _ticket(row: Any) -> TicketView:
    return TicketView(**dict(row))


async def load_open_tickets(conn: Connection) -> list[TicketView]:
    rows = await conn.fetch(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE NOT closed ORDER BY due_date")
    return [_ticket(r) for r in rows]


async def load_ticket(conn: Connection, ticket_id: uuid.UUID) -> TicketView | None:
    row = await conn.fetchrow(f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id = $1", ticket_id)
    return _ticket(row) if row else None


async def upsert_event(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    attention_id: uuid.UUID,
    code: str,
    title: str,
    subject_kind: str,
    subject_name: str,
    subject_nic: str | None,
    client_commitment_date: date,
    internal_commitment_date: date,
    created_by: str,
    opened_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO events (event_id, attention_id, code, title, subject_kind, subject_name, subject_nic,
               client_commitment_date, internal_commitment_date, created_by, opened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (event_id) DO UPDATE SET code = EXCLUDED.code, title = EXCLUDED.title,
               subject_kind = EXCLUDED.subject_kind, subject_name = EXCLUDED.subject_name,
               subject_nic = EXCLUDED.subject_nic,
               client_commitment_date = EXCLUDED.client_commitment_date,
               internal_commitment_date = EXCLUDED.internal_commitment_date,
               created_by = EXCLUDED.created_by""",
        event_id,
        attention_id,
        code,
        title,
        subject_kind,
        subject_name,
        subject_nic,
        client_commitment_date,
        internal_commitment_date,
        created_by,
        opened_at,
    )


async def close_event(conn: Connection, event_id: uuid.UUID, at: datetime) -> bool:
    result = await conn.execute(
        "UPDATE events SET closed = true, closed_at = $2 WHERE event_id = $1", event_id, at
    )
    return result != "UPDATE 0"


async def load_open_events(conn: Connection) -> list[tuple[EventView, datetime]]:
    """Open events that still have open tickets, with their count and when each event was opened."""
    rows = await conn.fetch(
        """SELECT e.event_id, e.code, e.title, c.attention_code, e.subject_name, e.subject_kind,
                  e.subject_nic, e.client_commitment_date, e.internal_commitment_date, e.created_by,
                  c.open_tickets, e.opened_at
           FROM events e
           JOIN LATERAL (SELECT count(*)::int AS open_tickets, min(t.attention_code) AS attention_code
                         FROM tickets t WHERE t.event_id = e.event_id AND NOT t.closed) c ON true
           WHERE NOT e.closed AND c.open_tickets > 0"""
    )
    out = []
    for r in rows:
        values = dict(r)
        opened_at = values.pop("opened_at")
        out.append((EventView(**values), opened_at))
    return out

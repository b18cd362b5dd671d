"""Events (macro-tasks) under an attention, and the tickets accepted on them (event_tickets)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from crmkit.db import Connection

from attentions.domain.access import Viewer
from attentions.store import Filters, like, row
from attentions.store.attentions import visible_sql

COLUMNS = (
    "e.event_id, e.code, e.attention_id, e.title, e.description, e.client_commitment_date, "
    "e.internal_commitment_date, e.status, e.created_by, e.created_at, e.closed_at, e.closed_by, "
    "e.closing_note"
)
PARENT = (
    "a.code AS attention_code, a.subject_kind, a.client_id, a.nic, a.status AS attention_status, "
    "a.subject AS attention_subject, COALESCE(c.name, sp.holder) AS subject_name"
)
JOINS = (
    "JOIN attentions a ON a.attention_id = e.attention_id "
    "LEFT JOIN clients c ON c.client_id = a.client_id LEFT JOIN supply_points sp ON sp.nic = a.nic"
)
TICKET_COLUMNS = (
    "ticket_id, code, event_id, responsibility, due_date, responsible_id, cc_ids, status, status_changed_at, "
    "late_reopened_at, requested_by, requested_at"
)
PROGRESS = """
    (SELECT count(*) FROM event_tickets t WHERE t.event_id = e.event_id) AS tickets_total,
    (SELECT count(*) FROM event_tickets t WHERE t.event_id = e.event_id AND t.status = 'closed')
        AS tickets_closed"""


async def insert(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    year: int,
    attention_id: uuid.UUID,
    title: str,
    description: str,
    client_commitment_date: date,
    internal_commitment_date: date,
    created_by: str,
) -> dict[str, Any]:
    await conn.execute(
        """INSERT INTO events (event_id, code, attention_id, title, description, client_commitment_date,
                               internal_commitment_date, created_by)
           VALUES ($1, next_code('EVT', $2), $3, $4, $5, $6, $7, $8)""",
        event_id,
        year,
        attention_id,
        title,
        description,
        client_commitment_date,
        internal_commitment_date,
        created_by,
    )
    created = await get(conn, event_id)
    assert created is not None
    return created


async def get(conn: Connection, event_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    """The event with its parent attention's summary. ``lock`` takes the event row's lock (FOR UPDATE)."""
    suffix = " FOR UPDATE OF e" if lock else ""
    return row(
        await conn.fetchrow(
            f"SELECT {COLUMNS}, {PARENT} FROM events e {JOINS} WHERE e.event_id = $1{suffix}", event_id
        )
    )


async def for_attention(conn: Connection, attention_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS}, {PROGRESS} FROM events e WHERE e.attention_id = $1 ORDER BY e.created_at, e.code",
        attention_id,
    )
    return [dict(r) for r in rows]


async def search(
    conn: Connection,
    viewer: Viewer,
    *,
    status: str | None,
    attention_id: uuid.UUID | None,
    q: str | None,
    due_before: date | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    filters = Filters(visible_sql("a", "$1", "$2"), viewer.user_id, viewer.is_admin)
    add = filters.add

    if status:
        add("e.status = ?", status)
    if attention_id:
        add("e.attention_id = ?", attention_id)
    if q:
        add("(e.code ILIKE ? OR e.title ILIKE ?)", like(q))
    if due_before:
        add("e.internal_commitment_date <= ?", due_before)
    clause = filters.clause
    total = await conn.fetchval(
        f"SELECT count(*) FROM events e JOIN attentions a ON a.attention_id = e.attention_id WHERE {clause}",
        *filters.args,
    )
    rows = await conn.fetch(
        f"""SELECT {COLUMNS}, {PARENT}, {PROGRESS} FROM events e {JOINS} WHERE {clause}
             ORDER BY e.created_at DESC, e.code DESC {filters.page()}""",
        *filters.args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)


async def count_open_tickets(conn: Connection, event_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM event_tickets WHERE event_id = $1 AND status <> 'closed'", event_id
        )
    )


async def close(conn: Connection, event_id: uuid.UUID, by: str, note: str | None) -> dict[str, Any]:
    await conn.execute(
        """UPDATE events SET status = 'closed', closed_at = now(), closed_by = $2, closing_note = $3
            WHERE event_id = $1""",
        event_id,
        by,
        note,
    )
    closed = await get(conn, event_id)
    assert closed is not None
    return closed


async def insert_ticket(
    conn: Connection,
    *,
    ticket_id: uuid.UUID,
    year: int,
    event_id: uuid.UUID,
    responsibility: str,
    due_date: date,
    responsible_id: str,
    cc_ids: list[str],
    requested_by: str,
) -> dict[str, Any]:
    result = await conn.fetchrow(
        f"""INSERT INTO event_tickets (ticket_id, code, event_id, responsibility, due_date, responsible_id,
                                       cc_ids, requested_by)
            VALUES ($1, next_code('TCK', $2), $3, $4, $5, $6, $7, $8) RETURNING {TICKET_COLUMNS}""",
        ticket_id,
        year,
        event_id,
        responsibility,
        due_date,
        responsible_id,
        cc_ids,
        requested_by,
    )
    assert result is not None
    return dict(result)


async def tickets(conn: Connection, event_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {TICKET_COLUMNS} FROM event_tickets WHERE event_id = $1 ORDER BY requested_at, code",
        event_id,
    )
    return [dict(r) for r in rows]


async def ticket_for_update(conn: Connection, ticket_id: uuid.UUID) -> dict[str, Any] | None:
    """The ticket and its event's status, with the EVENT row locked first (the order every writer uses)."""
    event_id = await conn.fetchval("SELECT event_id FROM event_tickets WHERE ticket_id = $1", ticket_id)
    if event_id is None:
        return None
    event_status = await conn.fetchval("SELECT status FROM events WHERE event_id = $1 FOR UPDATE", event_id)
    ticket = await conn.fetchrow(
        f"SELECT {TICKET_COLUMNS} FROM event_tickets WHERE ticket_id = $1 FOR UPDATE", ticket_id
    )
    assert ticket is not None
    return {**dict(ticket), "event_status": event_status}


async def set_ticket_status(
    conn: Connection, ticket_id: uuid.UUID, status: str, changed_at: datetime
) -> None:
    await conn.execute(
        "UPDATE event_tickets SET status = $2, status_changed_at = $3 WHERE ticket_id = $1",
        ticket_id,
        status,
        changed_at,
    )


async def mark_late_reopen(conn: Connection, ticket_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE event_tickets SET late_reopened_at = $2, status_changed_at = $2 WHERE ticket_id = $1",
        ticket_id,
        at,
    )

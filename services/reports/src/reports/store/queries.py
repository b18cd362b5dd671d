"""Report queries of the read model. Every query takes the period as UTC instants:
``since`` (first instant), ``until`` (first instant after), ``as_of`` (the overdue day) and ``as_of_end``
(first instant after it); see ``domain.period`` and ``domain.figures`` for the definitions.

Visibility: supply-point rows are visible to all staff; client rows to admins and to the users on the
client's access list (``visible`` is that list of client ids for the caller).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from crmkit.db import Connection

TZ = "America/El_Salvador"
SubjectColumn = Literal["client_id", "nic"]


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    as_of: date
    as_of_end: datetime


@dataclass(frozen=True)
class Viewer:
    user_id: str
    all_clients: bool  # admin
    visible: Sequence[uuid.UUID] = ()


async def visible_clients(conn: Connection, user_id: str) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT client_id FROM rpt_client_access WHERE user_id = $1 AND granted", user_id)
    return [r["client_id"] for r in rows]


async def client(conn: Connection, client_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT client_id, code, kind, internal, name FROM rpt_clients WHERE client_id = $1", client_id
    )
    return dict(row) if row else None


async def supply_point(conn: Connection, nic: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT nic, holder AS name, address, tariff, retired FROM rpt_supply_points WHERE nic = $1
           UNION ALL
           SELECT nic, subject_name, NULL, NULL, false FROM rpt_attentions WHERE nic = $1 LIMIT 1""",
        nic,
    )
    return dict(row) if row else None


# -- one subject ----------------------------------------------------------------------------------------
# Rows whose life intersects the period: opened before it ends, and not closed before it starts.

ATTENTIONS = """
SELECT a.attention_id, a.code, a.channel, a.summary, a.opened_at, a.closed_at, a.closed_by,
       a.registered_by, s.name AS registered_by_name, s.area
FROM rpt_attentions a LEFT JOIN rpt_staff s ON s.user_id = a.registered_by
WHERE a.{column} = $1 AND a.opened_at < $3 AND (a.closed_at IS NULL OR a.closed_at >= $2)
ORDER BY a.opened_at, a.code
"""

EVENTS = """
SELECT e.event_id, e.attention_id, e.code, e.title, e.opened_at, e.closed_at, e.closed_by,
       e.internal_commitment_date, e.client_commitment_date, e.created_by, s.name AS created_by_name, s.area
FROM rpt_events e LEFT JOIN rpt_staff s ON s.user_id = e.created_by
WHERE e.{column} = $1 AND e.opened_at < $3 AND (e.closed_at IS NULL OR e.closed_at >= $2)
ORDER BY e.opened_at, e.code
"""

TICKETS = """
SELECT t.ticket_id, t.event_id, t.attention_id, t.code, t.responsibility, t.status, t.opened_at,
       CASE WHEN t.status = 'closed' THEN t.closed_at END AS closed_at, t.due_date,
       t.responsible_id, t.responsible_name, t.area,
       ARRAY(SELECT r.reopened_at FROM rpt_ticket_reopens r WHERE r.ticket_id = t.ticket_id
             ORDER BY r.reopened_at) AS reopens
FROM rpt_tickets t
WHERE t.{column} = $1 AND t.opened_at < $3 AND (t.status <> 'closed' OR t.closed_at >= $2)
ORDER BY t.opened_at, t.code
"""

SUBJECT_QUERIES = {"attention": ATTENTIONS, "event": EVENTS, "ticket": TICKETS}


def subject_query(kind: str, column: SubjectColumn) -> str:
    assert column in ("client_id", "nic")
    return SUBJECT_QUERIES[kind].format(column=column)


async def subject_rows(
    conn: Connection, kind: str, column: SubjectColumn, key: Any, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(subject_query(kind, column), key, since, until)]


async def stream_subject_rows(
    conn: Connection, kind: str, column: SubjectColumn, key: Any, since: datetime, until: datetime
) -> AsyncIterator[dict[str, Any]]:
    """The same rows through a server-side cursor (call inside a transaction): bounded memory."""
    async for row in conn.cursor(subject_query(kind, column), key, since, until, prefetch=2000):
        yield dict(row)


# -- across subjects --------------------------------------------------------------------------------------

VISIBLE = "(x.subject_kind = 'supply_point' OR $5 OR x.client_id = ANY($6::uuid[]))"
OPEN_AT_END = "x.opened_at < $4 AND NOT ({closed} AND x.closed_at < $4)"
FIGURES = """
    count(*) FILTER (WHERE x.opened_at >= $1) AS opened,
    count(*) FILTER (WHERE {closed} AND x.closed_at >= $1 AND x.closed_at < $2) AS closed,
    count(*) FILTER (WHERE {open_at_end}) AS open_at_end,
    count(*) FILTER (WHERE {due} < $3 AND {open_at_end}) AS overdue,
    COALESCE(sum(extract(epoch FROM x.closed_at - x.opened_at) / 86400)
        FILTER (WHERE {closed} AND x.closed_at >= $1 AND x.closed_at < $2), 0)::float8 AS closed_days
"""
# Rows whose life intersects the period, written as four index ranges PostgreSQL can OR together (opened in
# the period, closed in it, open now, closed after the as-of day) instead of a scan of the whole history.
ACTIVE = (
    "((x.opened_at >= $1 AND x.opened_at < $2) OR ({closed} AND x.closed_at >= $1 AND x.closed_at < $2)"
    " OR ({open} AND x.opened_at < $2) OR (x.closed_at >= $4 AND x.opened_at < $2)) AND " + VISIBLE
)
KIND = """CASE WHEN x.subject_kind = 'supply_point' THEN 'supply_point' WHEN c.internal THEN 'internal'
               ELSE COALESCE(c.kind, 'unknown') END"""


def _figures(closed: str, due: str) -> str:
    return FIGURES.format(closed=closed, due=due, open_at_end=OPEN_AT_END.format(closed=closed))


OPEN = {"x.status = 'closed'": "x.status <> 'closed'", "x.closed_at IS NOT NULL": "x.closed_at IS NULL"}


def _active(closed: str) -> str:
    return ACTIVE.format(closed=closed, open=OPEN[closed])


TICKET_CLOSED = "x.status = 'closed'"
EVENT_CLOSED = "x.closed_at IS NOT NULL"

TICKETS_BY_RESPONSIBLE = f"""
SELECT COALESCE(x.area, '') AS area, x.responsible_id, max(x.responsible_name) AS name,
       {_figures(TICKET_CLOSED, "x.due_date")}
FROM rpt_tickets x WHERE {_active(TICKET_CLOSED)}
GROUP BY 1, 2
"""

EVENTS_BY_AREA = f"""
SELECT COALESCE(s.area, '') AS area, {_figures(EVENT_CLOSED, "x.internal_commitment_date")},
    count(*) FILTER (WHERE x.closed_at >= $1 AND x.closed_at < $2
        AND (x.closed_at AT TIME ZONE '{TZ}')::date <= x.internal_commitment_date) AS internal_kept,
    count(*) FILTER (WHERE x.closed_at >= $1 AND x.closed_at < $2
        AND (x.closed_at AT TIME ZONE '{TZ}')::date <= x.client_commitment_date) AS client_kept
FROM rpt_events x LEFT JOIN rpt_staff s ON s.user_id = x.created_by
WHERE {_active(EVENT_CLOSED)}
GROUP BY 1
"""

ATTENTIONS_BY_CHANNEL = f"""
SELECT x.channel, {_figures(EVENT_CLOSED, "NULL::date")}
FROM rpt_attentions x WHERE {_active(EVENT_CLOSED)}
GROUP BY 1
"""

BY_CLIENT_KIND = """
SELECT {kind} AS client_kind,
    count(*) FILTER (WHERE x.opened_at >= $1) AS opened,
    count(*) FILTER (WHERE {closed} AND x.closed_at >= $1 AND x.closed_at < $2) AS closed
FROM {table} x LEFT JOIN rpt_clients c ON c.client_id = x.client_id
WHERE {active} AND $3::date IS NOT NULL AND $4::timestamptz IS NOT NULL
GROUP BY 1
"""

WEEKLY = """
SELECT 'opened' AS what, (date_trunc('week', x.opened_at AT TIME ZONE '{tz}'))::date AS week, count(*) AS n
FROM {table} x WHERE x.opened_at >= $1 AND x.opened_at < $2 AND {visible} GROUP BY 2
UNION ALL
SELECT 'closed', (date_trunc('week', x.closed_at AT TIME ZONE '{tz}'))::date, count(*)
FROM {table} x WHERE x.closed_at >= $1 AND x.closed_at < $2 AND {closed} AND {visible} GROUP BY 2
"""

TABLES = {
    "attention": ("rpt_attentions", EVENT_CLOSED),
    "event": ("rpt_events", EVENT_CLOSED),
    "ticket": ("rpt_tickets", TICKET_CLOSED),
}


def by_client_kind_query(kind: str) -> str:
    table, closed = TABLES[kind]
    return BY_CLIENT_KIND.format(kind=KIND, closed=closed, table=table, active=_active(closed))


def weekly_query(kind: str) -> str:
    table, closed = TABLES[kind]
    # $3/$4 are unused here but keep the parameter list of every overview query the same.
    visible = VISIBLE.replace("$5", "$3").replace("$6", "$4")
    return WEEKLY.format(tz=TZ, table=table, closed=closed, visible=visible)


async def overview(pool: asyncpg.Pool, window: Window, viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """Every aggregate of the overview; the statements run side by side on their own connections (each
    scans the period once; together they are most of an overview's time)."""
    args = (
        window.since,
        window.until,
        window.as_of,
        window.as_of_end,
        viewer.all_clients,
        list(viewer.visible),
    )
    weekly_args = (window.since, window.until, viewer.all_clients, list(viewer.visible))
    statements: dict[str, tuple[str, tuple[Any, ...]]] = {
        "tickets_by_responsible": (TICKETS_BY_RESPONSIBLE, args),
        "events_by_area": (EVENTS_BY_AREA, args),
        "attentions_by_channel": (ATTENTIONS_BY_CHANNEL, args),
    }
    for kind in TABLES:
        statements[f"{kind}s_by_client_kind"] = (by_client_kind_query(kind), args)
        statements[f"{kind}s_weekly"] = (weekly_query(kind), weekly_args)

    async def run(sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(sql, *params)]

    results = await asyncio.gather(*(run(sql, params) for sql, params in statements.values()))
    return dict(zip(statements, results, strict=True))

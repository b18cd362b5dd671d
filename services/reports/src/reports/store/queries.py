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

from reports.domain.buckets import Buckets

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


async def subject_row_batches(
    conn: Connection, kind: str, column: SubjectColumn, key: Any, since: datetime, until: datetime, size: int
) -> AsyncIterator[list[asyncpg.Record]]:
    """The same rows in lists of ``size`` through a server-side cursor (call inside a transaction)."""
    cursor = await conn.cursor(subject_query(kind, column), key, since, until)
    while rows := await cursor.fetch(size):
        yield rows


async def stream_subject_rows(
    conn: Connection, kind: str, column: SubjectColumn, key: Any, since: datetime, until: datetime
) -> AsyncIterator[dict[str, Any]]:
    """The same rows through a server-side cursor (call inside a transaction): bounded memory."""
    async for row in conn.cursor(subject_query(kind, column), key, since, until, prefetch=2000):
        yield dict(row)


# -- across subjects --------------------------------------------------------------------------------------
# From the rollups (migration *_reports_rollups.sql, domain.buckets): an admin reads every class of every
# rollup; anyone else reads the supply-point class (suministros are visible to all staff) plus the
# contributions of the rows of the clients on their access list, computed from those rows on the fly by the
# same function that feeds the rollups (rpt_facts), so both add up the same way.

CONTRIBUTIONS = """
SELECT r.family, r.grain, r.day, r.class, r.k1, r.k2, r.k3, r.opened, r.closed, r.closed_us, r.open_delta,
       r.overdue_delta, r.internal_kept, r.client_kept
FROM rpt_rollups r
WHERE ({admin} OR r.class = 'supply_point') AND {rows}
UNION ALL
SELECT f.family, f.grain, f.day, f.class, f.k1, f.k2, f.k3, f.opened, f.closed, f.closed_us, f.open_delta,
       f.overdue_delta, f.internal_kept, f.client_kept
FROM rpt_items i
LEFT JOIN rpt_clients c ON c.client_id = (i.item).client_id
CROSS JOIN LATERAL rpt_facts(i.item, rpt_client_kind((i.item).subject_kind, c.kind, c.internal)) f
WHERE NOT {admin} AND (i.item).client_id = ANY({visible}::uuid[])
  AND (i.item).subject_kind IS DISTINCT FROM 'supply_point' AND {facts}
"""


def _contributions(admin: str, visible: str, rows: str) -> str:
    return CONTRIBUTIONS.format(
        admin=admin, visible=visible, rows=rows.format(x="r"), facts=rows.format(x="f")
    )


# Parameters of FIGURES: $1 start, $2 end, $3 months_from, $4 months_to, $5 as_of, $6 prefix_to (Buckets),
# $7 all clients (admin), $8 the visible client ids.
IN_PERIOD = (
    "(({x}.grain = 'm' AND {x}.day >= $3 AND {x}.day < $4) OR ({x}.grain = 'd'"
    " AND (({x}.day >= $1 AND {x}.day < $3) OR ({x}.day >= $4 AND {x}.day <= $2))))"
)
IN_PREFIX = "(({x}.grain = 'm' AND {x}.day < $6) OR ({x}.grain = 'd' AND {x}.day >= $6 AND {x}.day <= $5))"
IN_EITHER = f"({IN_PERIOD} OR {IN_PREFIX})"


def _sum(column: str, where: str, alias: str | None = None) -> str:
    return f"COALESCE(sum({column}) FILTER (WHERE {where.format(x='src')}), 0)::bigint AS {alias or column}"


# Every figure of every group: the ticket family by (area, responsible, name as assigned), the event family
# by creator (their area joined from the staff directory now), the attention family by channel, the kind
# family by (client kind, item kind). A group with nothing in the period comes back as zeros and callers
# drop it (a group is listed when an item of it was opened or closed in the period, or is open at its end).
# person_name: a responsible person's name is the greatest (in the database's collation) of the names
# their listed tickets were assigned under.
FIGURES = f"""
WITH src AS ({_contributions("$7", "$8", IN_EITHER)}),
grouped AS (
    SELECT family, CASE WHEN family = 'kind' THEN class END AS class, k1, k2, k3,
           {_sum("opened", IN_PERIOD)}, {_sum("closed", IN_PERIOD)}, {_sum("closed_us", IN_PERIOD)},
           {_sum("internal_kept", IN_PERIOD)}, {_sum("client_kept", IN_PERIOD)},
           {_sum("open_delta", IN_PREFIX, "open_at_end")}, {_sum("overdue_delta", IN_PREFIX, "overdue")}
    FROM src
    GROUP BY 1, 2, 3, 4, 5
)
SELECT g.*, s.area AS creator_area,
       max(g.k3) FILTER (WHERE g.opened <> 0 OR g.closed <> 0 OR g.open_at_end <> 0)
           OVER (PARTITION BY g.family, g.k1, g.k2) AS person_name
FROM grouped g LEFT JOIN rpt_staff s ON g.family = 'event' AND s.user_id = g.k1
"""

# Opened and closed per local week (Monday) and item kind, from the kind family's day rows of the period.
# Parameters: $1 start, $2 end, $3 all clients (admin), $4 the visible client ids.
KIND_DAYS = "({x}.family = 'kind' AND {x}.grain = 'd' AND {x}.day BETWEEN $1 AND $2)"
WEEKLY = f"""
WITH src AS ({_contributions("$3", "$4", KIND_DAYS)})
SELECT k1 AS fact, day - (date_part('isodow', day)::int - 1) AS week, sum(opened)::bigint AS opened,
       sum(closed)::bigint AS closed
FROM src
GROUP BY 1, 2
"""


async def overview(pool: asyncpg.Pool, buckets: Buckets, viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """The overview's groups and weekly counts: two statements, side by side on their own connections."""
    b, admin, visible = buckets, viewer.all_clients, list(viewer.visible)
    figures_args = (b.start, b.end, b.months_from, b.months_to, b.as_of, b.prefix_to, admin, visible)
    weekly_args = (b.start, b.end, admin, visible)

    async def run(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(sql, *args)]

    figures, weekly = await asyncio.gather(run(FIGURES, figures_args), run(WEEKLY, weekly_args))
    return {"figures": figures, "weekly": weekly}

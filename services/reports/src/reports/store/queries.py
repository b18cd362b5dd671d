"""Report queries of the read model. A subject's rows are selected by the period's UTC instants ``since``
(first instant) and ``until`` (first instant after); the overview reads the rollups by local days
(``domain.buckets``). See ``domain.period`` and ``domain.figures`` for the definitions.

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

SubjectColumn = Literal["client_id", "nic"]


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    as_of: date  # the day "at the end" figures are counted on


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
# rollup; anyone else reads the supply-point class (suministros are visible to all staff) plus the figures
# of the rows of the clients on their access list, counted from those rows (client index) by
# rpt_item_figures; the tests hold both to the same reference.

VISIBLE_ITEMS = """
SELECT i.item, rpt_client_kind((i.item).subject_kind, c.kind, c.internal) AS kind
FROM rpt_items i LEFT JOIN rpt_clients c ON c.client_id = (i.item).client_id
WHERE NOT {admin} AND (i.item).client_id = ANY({visible}::uuid[])
  AND (i.item).subject_kind IS DISTINCT FROM 'supply_point'
"""
MEASURES = "x.opened, x.closed, x.closed_us, x.internal_kept, x.client_kept"

# Every figure of every group: the ticket family by (area, responsible, name as assigned), the event family
# by creator (their area joined from the staff directory now), the attention family by channel, the kind
# family by (client kind, item kind). Period figures are the rollup rows weighted by ``wp``, figures at the
# end by ``wq`` plus every year row before the as-of day's year. A group with nothing in the period comes
# back as zeros and callers drop it (a group is listed when an item of it was opened or closed in the
# period, or is open at its end). person_name: a responsible person's name is the greatest (in the
# database's collation) of the names their listed tickets were assigned under.
# Parameters: $1 grains, $2 days, $3 period weights, $4 prefix weights (Buckets.rows()), $5 the first day of
# the as-of day's year, $6 all clients (admin), $7 the visible client ids, $8 first day, $9 last day,
# $10 the as-of day.
FIGURES = f"""
WITH b AS (SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::int[]) AS b (grain, day, wp, wq)),
src AS (
    SELECT x.family, x.class, x.k1, x.k2, x.k3, {MEASURES}, x.open_delta * b.wq AS open_at_end,
           x.overdue_delta * b.wq AS overdue, b.wp
    FROM b
    CROSS JOIN (VALUES ('attention'), ('event'), ('ticket'), ('kind')) f (family)
    JOIN rpt_rollups x ON x.family = f.family AND x.grain = b.grain AND x.day = b.day
    WHERE $6 OR x.class = 'supply_point'
    UNION ALL
    SELECT x.family, x.class, x.k1, x.k2, x.k3, 0, 0, 0, 0, 0, x.open_delta, x.overdue_delta, 0
    FROM (VALUES ('attention'), ('event'), ('ticket'), ('kind')) f (family)
    JOIN rpt_rollups x ON x.family = f.family AND x.grain = 'y' AND x.day < $5
    WHERE $6 OR x.class = 'supply_point'
    UNION ALL
    SELECT x.family, x.class, x.k1, x.k2, x.k3, {MEASURES}, x.open_at_end, x.overdue, 1
    FROM ({VISIBLE_ITEMS.format(admin="$6", visible="$7")}) v
    CROSS JOIN LATERAL rpt_item_figures(v.item, v.kind, $8, $9, $10) x
),
grouped AS (
    SELECT family, CASE WHEN family = 'kind' THEN class END AS class, k1, k2, k3,
           sum(opened * wp)::bigint AS opened, sum(closed * wp)::bigint AS closed,
           sum(closed_us * wp)::bigint AS closed_us, sum(internal_kept * wp)::bigint AS internal_kept,
           sum(client_kept * wp)::bigint AS client_kept, sum(open_at_end)::bigint AS open_at_end,
           sum(overdue)::bigint AS overdue
    FROM src
    GROUP BY 1, 2, 3, 4, 5
)
SELECT g.*, s.area AS creator_area,
       max(g.k3) FILTER (WHERE g.opened <> 0 OR g.closed <> 0 OR g.open_at_end <> 0)
           OVER (PARTITION BY g.family, g.k1, g.k2) AS person_name
FROM grouped g LEFT JOIN rpt_staff s ON g.family = 'event' AND s.user_id = g.k1
"""

# Opened and closed per local week (Monday) and item kind, from the kind family's day rows of the period
# and the opening and closure days of the visible clients' rows.
# Parameters: $1 first day, $2 last day, $3 all clients (admin), $4 the visible client ids.
WEEKLY = f"""
WITH src AS (
    SELECT x.k1 AS fact, x.day, x.opened, x.closed FROM rpt_rollups x
    WHERE x.family = 'kind' AND x.grain = 'd' AND x.day BETWEEN $1 AND $2 AND ($3 OR x.class = 'supply_point')
    UNION ALL
    SELECT (v.item).fact, c.day, c.opened, c.closed FROM ({VISIBLE_ITEMS.format(admin="$3", visible="$4")}) v
    CROSS JOIN LATERAL rpt_contributions((v.item).opened_at, (v.item).closed_at, NULL, NULL) c
    WHERE c.day BETWEEN $1 AND $2
)
SELECT fact, day - (date_part('isodow', day)::int - 1) AS week, sum(opened)::bigint AS opened,
       sum(closed)::bigint AS closed
FROM src
GROUP BY 1, 2
"""


def figures_args(buckets: Buckets, viewer: Viewer) -> tuple[Any, ...]:
    b = buckets
    return (*b.rows(), b.years_before, viewer.all_clients, list(viewer.visible), b.start, b.end, b.as_of)


async def overview(pool: asyncpg.Pool, buckets: Buckets, viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """The overview's groups and weekly counts: two statements, side by side on their own connections."""
    weekly_args = (buckets.start, buckets.end, viewer.all_clients, list(viewer.visible))

    async def run(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(sql, *args)]

    figures, weekly = await asyncio.gather(
        run(FIGURES, figures_args(buckets, viewer)), run(WEEKLY, weekly_args)
    )
    return {"figures": figures, "weekly": weekly}

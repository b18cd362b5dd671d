"""Attentions: the record of an interaction with a client or a suministro."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from crmkit.db import Connection
from crmkit.outbox import OUTBOX_COLUMNS, OutboxRow

from attentions.domain.access import Viewer
from attentions.store import Filters, like, row

COLUMNS = (
    "a.attention_id, a.code, a.subject_kind, a.client_id, a.nic, a.channel, a.subject, a.description, "
    "a.happened_at, a.registered_by, a.registered_at, a.contact_ids, a.contact_names, a.status, a.closed_at, "
    "a.closed_by, a.closing_note"
)
# The subject's display name: the client's name or the suministro's holder.
SUBJECT_NAME = "COALESCE(c.name, sp.holder) AS subject_name, c.code AS client_code"
JOINS = "LEFT JOIN clients c ON c.client_id = a.client_id LEFT JOIN supply_points sp ON sp.nic = a.nic"
PROGRESS = """
    (SELECT count(*) FROM events e WHERE e.attention_id = a.attention_id) AS events_total,
    (SELECT count(*) FROM events e WHERE e.attention_id = a.attention_id AND e.status = 'closed')
        AS events_closed"""


def visible_sql(alias: str, user_param: str, admin_param: str) -> str:
    """The access rule (domain.access) in SQL, for lists: admin, a suministro, or on the access list."""
    return (
        f"({admin_param} OR {alias}.subject_kind = 'supply_point' OR EXISTS (SELECT 1 FROM client_access ca "
        f"WHERE ca.client_id = {alias}.client_id AND ca.user_id = {user_param}))"
    )


async def insert(
    conn: Connection,
    *,
    viewer: Viewer,
    attention_id: uuid.UUID,
    year: int,
    client_id: uuid.UUID | None,
    nic: str | None,
    channel: str,
    subject: str,
    description: str,
    happened_at: datetime,
    contact_ids: list[uuid.UUID],
    contact_names: list[str],
    opened: OutboxRow,
) -> dict[str, Any] | None:
    """Registers an attention, in ONE statement (it is the hottest write of the service), so that it is
    atomic without an explicit transaction (one round trip instead of four):

    - only when the subject is there and the viewer may see it (a client: admin or on its access list; a
      suministro: not retired), else nothing is written and None is returned;
    - with the next ATN-<year>-NNNNNN code;
    - with its audit row ("created", the new row as JSON);
    - with its AttentionOpened outbox row ``opened``, whose code and subject name the statement fills in.
    """
    result = await conn.fetchrow(
        f"""WITH subject AS (
                SELECT c.name FROM clients c
                 WHERE $4::uuid IS NOT NULL AND c.client_id = $4
                   AND ($11 OR EXISTS (SELECT 1 FROM client_access ca
                                        WHERE ca.client_id = c.client_id AND ca.user_id = $10))
                UNION ALL
                SELECT sp.holder FROM supply_points sp
                 WHERE $5::text IS NOT NULL AND sp.nic = $5 AND sp.retired_at IS NULL
            ), a AS (
                INSERT INTO attentions AS a (attention_id, code, subject_kind, client_id, nic, channel,
                                             subject, description, happened_at, registered_by, contact_ids,
                                             contact_names)
                SELECT $1, next_code('ATN', $2), $3, $4, $5, $6, $7, $8, $9, $10, $12, $13 FROM subject
                RETURNING {COLUMNS}
            ), audited AS (
                INSERT INTO audit_log (object_type, object_id, action, actor, client_id, nic, after)
                SELECT 'attention', a.attention_id::text, 'created', a.registered_by, a.client_id, a.nic,
                       to_jsonb(a)
                  FROM a
            ), published AS (
                INSERT INTO kit_outbox ({OUTBOX_COLUMNS})
                SELECT $14, $15, $16, $17, $18, $19, $20,
                       convert_to(jsonb_set(jsonb_set($21::text::jsonb, '{{data,code}}', to_jsonb(a.code)),
                                            '{{data,subject,display_name}}',
                                            to_jsonb(COALESCE((SELECT name FROM subject), '')))::text, 'UTF8')
                  FROM a
            )
            SELECT a.*, (SELECT name FROM subject) AS subject_name FROM a""",
        attention_id,
        year,
        "client" if client_id is not None else "supply_point",
        client_id,
        nic,
        channel,
        subject,
        description,
        happened_at,
        viewer.user_id,
        viewer.is_admin,
        contact_ids,
        contact_names,
        *opened,
    )
    return dict(result) if result is not None else None


async def get(conn: Connection, attention_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE OF a" if lock else ""
    return row(
        await conn.fetchrow(
            f"SELECT {COLUMNS}, {SUBJECT_NAME} FROM attentions a {JOINS} WHERE a.attention_id = $1{suffix}",
            attention_id,
        )
    )


async def detail_extras(conn: Connection, attention_id: uuid.UUID) -> dict[str, Any]:
    events = await conn.fetch(
        """SELECT e.event_id, e.code, e.title, e.status, e.client_commitment_date, e.internal_commitment_date,
                  e.created_at, e.closed_at,
                  (SELECT count(*) FROM event_tickets t WHERE t.event_id = e.event_id) AS tickets_total,
                  (SELECT count(*) FROM event_tickets t WHERE t.event_id = e.event_id AND t.status = 'closed')
                      AS tickets_closed
             FROM events e WHERE e.attention_id = $1 ORDER BY e.created_at, e.code""",
        attention_id,
    )
    return {"events": [dict(e) for e in events]}


async def search(
    conn: Connection,
    viewer: Viewer,
    *,
    status: str | None = None,
    channel: str | None = None,
    subject_kind: str | None = None,
    client_id: uuid.UUID | None = None,
    nic: str | None = None,
    registered_by: str | None = None,
    q: str | None = None,
    happened_from: datetime | None = None,
    happened_to: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    filters = Filters(visible_sql("a", "$1", "$2"), viewer.user_id, viewer.is_admin)
    add = filters.add

    if status:
        add("a.status = ?", status)
    if channel:
        add("a.channel = ?", channel)
    if subject_kind:
        add("a.subject_kind = ?", subject_kind)
    if client_id:
        add("a.client_id = ?", client_id)
    if nic:
        add("a.nic = ?", nic)
    if registered_by:
        add("a.registered_by = ?", registered_by)
    if q:
        add("(a.code ILIKE ? OR a.subject ILIKE ?)", like(q))
    if happened_from:
        add("a.happened_at >= ?", happened_from)
    if happened_to:
        add("a.happened_at < ?", happened_to)
    clause = filters.clause
    total = await conn.fetchval(f"SELECT count(*) FROM attentions a WHERE {clause}", *filters.args)
    rows = await conn.fetch(
        f"""SELECT {COLUMNS}, {SUBJECT_NAME}, {PROGRESS}
              FROM (SELECT * FROM attentions a WHERE {clause}
                     ORDER BY a.registered_at DESC, a.code DESC
                     {filters.page()}) a
              {JOINS}
             ORDER BY a.registered_at DESC, a.code DESC""",
        *filters.args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)


async def count_open_events(conn: Connection, attention_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM events WHERE attention_id = $1 AND status <> 'closed'", attention_id
        )
    )


async def close(conn: Connection, attention_id: uuid.UUID, by: str, note: str) -> dict[str, Any]:
    await conn.execute(
        """UPDATE attentions SET status = 'closed', closed_at = now(), closed_by = $2, closing_note = $3
            WHERE attention_id = $1""",
        attention_id,
        by,
        note,
    )
    closed = await get(conn, attention_id)
    assert closed is not None
    return closed


async def history(conn: Connection, *, client_id: uuid.UUID | None, nic: str | None) -> list[dict[str, Any]]:
    """Every attention of a subject, newest first, each with its events (for the history view)."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS}, {PROGRESS} FROM attentions a
             WHERE ($1::uuid IS NOT NULL AND a.client_id = $1) OR ($2::text IS NOT NULL AND a.nic = $2)
             ORDER BY a.happened_at DESC, a.code DESC""",
        client_id,
        nic,
    )
    ids = [r["attention_id"] for r in rows]
    events = await conn.fetch(
        """SELECT event_id, attention_id, code, title, status, client_commitment_date,
                  internal_commitment_date,
                  created_at, closed_at
             FROM events WHERE attention_id = ANY($1::uuid[]) ORDER BY created_at, code""",
        ids,
    )
    by_attention: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for e in events:
        by_attention.setdefault(e["attention_id"], []).append(dict(e))
    return [{**dict(r), "events": by_attention.get(r["attention_id"], [])} for r in rows]

"""SQL of technical work orders and their audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from crmkit.db import Connection

from tickets.domain.tickets import Viewer
from tickets.domain.work_orders import Move
from tickets.store.tickets import visible_to

COLUMNS = """w.id, w.code, w.ticket_id, w.area, w.work_type, w.nic, w.address, w.description,
    w.requested_date, w.crew_notes, w.status, w.completion_report, w.created_by, w.created_by_name,
    w.decided_by, w.decided_by_name, w.decided_at, w.decision_comment, w.created_at, w.updated_at,
    t.code AS ticket_code, t.responsibility AS ticket_responsibility, t.status AS ticket_status,
    t.responsible_id AS ticket_responsible_id, t.responsible_name AS ticket_responsible_name,
    t.responsible_area AS ticket_responsible_area, t.subject_name AS ticket_subject_name,
    t.event_code AS ticket_event_code, t.attention_code AS ticket_attention_code,
    t.cc_ids AS ticket_cc_ids, t.subject_kind AS ticket_subject_kind, t.client_id AS ticket_client_id"""
EDITABLE = ("work_type", "nic", "address", "description", "requested_date", "crew_notes")


async def next_code(conn: Connection, year: int) -> str:
    number = await conn.fetchval("SELECT nextval('work_order_numbers')")
    return f"OT-{year}-{number:06d}"


async def insert(conn: Connection, values: dict[str, Any]) -> None:
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.execute(
        f"INSERT INTO work_orders ({', '.join(columns)}) VALUES ({placeholders})", *values.values()
    )


async def get(conn: Connection, order_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF w" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM work_orders w JOIN tickets t ON t.id = w.ticket_id WHERE w.id = $1{lock}",
        order_id,
    )


async def update_fields(conn: Connection, order_id: uuid.UUID, changes: dict[str, Any]) -> None:
    if not changes:
        return
    assert set(changes) <= set(EDITABLE)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    await conn.execute(
        f"UPDATE work_orders SET {sets}, updated_at = now() WHERE id = $1", order_id, *changes.values()
    )


async def move(conn: Connection, order_id: uuid.UUID, move: Move, actor_id: str, actor_name: str) -> None:
    decided = move.action in ("approve", "reject")
    await conn.execute(
        """UPDATE work_orders
           SET status = $2,
               completion_report = COALESCE($3, completion_report),
               decided_by = CASE WHEN $4 THEN $5 ELSE decided_by END,
               decided_by_name = CASE WHEN $4 THEN $6 ELSE decided_by_name END,
               decided_at = CASE WHEN $4 THEN now() ELSE decided_at END,
               decision_comment = CASE WHEN $4 THEN $7 ELSE decision_comment END,
               updated_at = now()
           WHERE id = $1""",
        order_id,
        move.to_status,
        move.completion_report,
        decided,
        actor_id,
        actor_name,
        move.comment,
    )


async def audit(
    conn: Connection,
    order_id: uuid.UUID,
    transition: str,
    from_status: str | None,
    to_status: str,
    actor_id: str,
    actor_name: str,
    comment: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO work_order_transitions (work_order_id, transition, from_status, to_status, actor_id,
                                              actor_name, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        order_id,
        transition,
        from_status,
        to_status,
        actor_id,
        actor_name,
        comment,
    )


async def trail(conn: Connection, order_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT transition, from_status, to_status, actor_id, actor_name, comment, at
               FROM work_order_transitions WHERE work_order_id = $1 ORDER BY id""",
            order_id,
        )
    )


async def of_ticket(conn: Connection, ticket_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT id, code, status, work_type FROM work_orders WHERE ticket_id = $1 ORDER BY code",
            ticket_id,
        )
    )


@dataclass(frozen=True)
class OrderFilters:
    status: Sequence[str] = ()
    work_type: Sequence[str] = ()
    requested_from: date | None = None
    requested_to: date | None = None
    area: str | None = None
    ticket_id: uuid.UUID | None = None


async def list_orders(
    conn: Connection, viewer: Viewer, sees_all: bool, f: OrderFilters, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = ["TRUE" if sees_all else visible_to(viewer, params)]
    if f.status:
        conditions.append(f"w.status = ANY({param(list(f.status))}::text[])")
    if f.work_type:
        conditions.append(f"w.work_type = ANY({param(list(f.work_type))}::text[])")
    if f.requested_from:
        conditions.append(f"w.requested_date >= {param(f.requested_from)}")
    if f.requested_to:
        conditions.append(f"w.requested_date <= {param(f.requested_to)}")
    if f.area:
        conditions.append(f"lower(w.area) = lower({param(f.area)})")
    if f.ticket_id:
        conditions.append(f"w.ticket_id = {param(f.ticket_id)}")
    where = " AND ".join(conditions)
    source = "work_orders w JOIN tickets t ON t.id = w.ticket_id"
    total = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {where}", *params)
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM {source} WHERE {where}
            ORDER BY w.requested_date DESC, w.code DESC LIMIT {int(limit)} OFFSET {int(offset)}""",
        *params,
    )
    return list(rows), int(total)

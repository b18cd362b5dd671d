"""The staff directory table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmkit.db import Connection

from attentions.domain.staff import StaffRecord
from attentions.store import like, row

COLUMNS = "user_id, name, email, area, manager_id, roles, active, created_at, updated_at"


async def get(conn: Connection, user_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return row(await conn.fetchrow(f"SELECT {COLUMNS} FROM staff WHERE user_id = $1{suffix}", user_id))


async def get_many(conn: Connection, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM staff WHERE user_id = ANY($1::text[])", list(user_ids))
    return {r["user_id"]: dict(r) for r in rows}


async def managers(conn: Connection) -> dict[str, str | None]:
    return {r["user_id"]: r["manager_id"] for r in await conn.fetch("SELECT user_id, manager_id FROM staff")}


async def search(
    conn: Connection,
    *,
    q: str | None,
    area: str | None,
    role: str | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = ["TRUE"]
    args: list[Any] = []
    if q:
        args.append(like(q))
        where.append(f"(name ILIKE ${len(args)} OR user_id ILIKE ${len(args)} OR email ILIKE ${len(args)})")
    if area:
        args.append(area)
        where.append(f"area = ${len(args)}")
    if role:
        args.append(role)
        where.append(f"${len(args)} = ANY(roles)")
    if active is not None:
        args.append(active)
        where.append(f"active = ${len(args)}")
    clause = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM staff WHERE {clause}", *args)
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM staff WHERE {clause} ORDER BY name, user_id
            LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)


async def upsert(conn: Connection, record: StaffRecord) -> dict[str, Any]:
    result = await conn.fetchrow(
        f"""INSERT INTO staff (user_id, name, email, area, manager_id, roles, active)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (user_id) DO UPDATE SET
                name = EXCLUDED.name, email = EXCLUDED.email, area = EXCLUDED.area,
                manager_id = EXCLUDED.manager_id, roles = EXCLUDED.roles, active = EXCLUDED.active,
                updated_at = now()
            RETURNING {COLUMNS}""",
        record.user_id,
        record.name,
        record.email,
        record.area,
        record.manager_id,
        list(record.roles),
        record.active,
    )
    assert result is not None
    return dict(result)

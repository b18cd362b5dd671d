"""Clients (prospects and stakeholders), their access lists and their contacts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from crmkit.db import Connection

from attentions.domain.access import Viewer
from attentions.store import like, row

COLUMNS = (
    "client_id, code, kind, internal, name, tax_id, sector, address, phones, email, notes, created_by, "
    "created_at, updated_at"
)
EDITABLE = ("kind", "internal", "name", "tax_id", "sector", "address", "phones", "email", "notes")
CONTACT_COLUMNS = (
    "contact_id, client_id, name, position, phone, email, decision_maker, created_at, updated_at"
)
CONTACT_EDITABLE = ("name", "position", "phone", "email", "decision_maker")


async def next_code_number(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT nextval('client_code_seq')"))


async def insert(conn: Connection, client_id: uuid.UUID, code: str, fields: dict[str, Any], by: str) -> dict:
    result = await conn.fetchrow(
        f"""INSERT INTO clients (client_id, code, kind, internal, name, tax_id, sector, address, phones,
                                 email,
                                 notes, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}""",
        client_id,
        code,
        *(fields[k] for k in EDITABLE),
        by,
    )
    assert result is not None
    return dict(result)


async def get(conn: Connection, client_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return row(await conn.fetchrow(f"SELECT {COLUMNS} FROM clients WHERE client_id = $1{suffix}", client_id))


async def has_access(conn: Connection, client_id: uuid.UUID, user_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM client_access WHERE client_id = $1 AND user_id = $2)",
            client_id,
            user_id,
        )
    )


async def visible(
    conn: Connection, client_id: uuid.UUID, viewer: Viewer, *, lock: bool = False
) -> dict[str, Any] | None:
    """The client when the viewer may see it (admin or on its access list), else None: one query."""
    suffix = " FOR UPDATE OF c" if lock else ""
    return row(
        await conn.fetchrow(
            f"""SELECT {", ".join("c." + c.strip() for c in COLUMNS.split(","))} FROM clients c
                 WHERE c.client_id = $1
                   AND ($3 OR EXISTS (SELECT 1 FROM client_access ca
                                       WHERE ca.client_id = c.client_id AND ca.user_id = $2)){suffix}""",
            client_id,
            viewer.user_id,
            viewer.is_admin,
        )
    )


async def search(
    conn: Connection,
    viewer: Viewer,
    *,
    q: str | None,
    kind: str | None,
    internal: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    args: list[Any] = [viewer.user_id, viewer.is_admin]
    where = [
        "($2 OR EXISTS (SELECT 1 FROM client_access ca WHERE ca.client_id = c.client_id AND ca.user_id = $1))"
    ]
    if q:
        args.append(like(q))
        n = len(args)
        where.append(f"(c.name ILIKE ${n} OR c.code ILIKE ${n} OR c.tax_id ILIKE ${n})")
    if kind:
        args.append(kind)
        where.append(f"c.kind = ${len(args)}")
    if internal is not None:
        args.append(internal)
        where.append(f"c.internal = ${len(args)}")
    clause = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM clients c WHERE {clause}", *args)
    rows = await conn.fetch(
        f"""SELECT c.*,
                   (SELECT count(*) FROM attentions a WHERE a.client_id = c.client_id AND a.status = 'open')
                       AS open_attentions
              FROM clients c WHERE {clause}
             ORDER BY lower(c.name), c.code LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)


async def update(conn: Connection, client_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
    names = [k for k in changes if k in EDITABLE]
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    result = await conn.fetchrow(
        f"UPDATE clients SET {sets}, updated_at = now() WHERE client_id = $1 RETURNING {COLUMNS}",
        client_id,
        *(changes[n] for n in names),
    )
    assert result is not None
    return dict(result)


async def access_list(conn: Connection, client_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT ca.user_id, s.name, s.email, s.area, ca.granted_by, ca.granted_at
             FROM client_access ca LEFT JOIN staff s USING (user_id)
            WHERE ca.client_id = $1 ORDER BY ca.granted_at, ca.user_id""",
        client_id,
    )
    return [dict(r) for r in rows]


async def grant(conn: Connection, client_id: uuid.UUID, user_ids: Sequence[str], by: str) -> list[str]:
    """Adds users to the access list; returns the ones that were not on it."""
    rows = await conn.fetch(
        """INSERT INTO client_access (client_id, user_id, granted_by)
           SELECT $1, u, $3 FROM unnest($2::text[]) AS u
           ON CONFLICT DO NOTHING RETURNING user_id""",
        client_id,
        list(user_ids),
        by,
    )
    added = {r["user_id"] for r in rows}
    return [u for u in user_ids if u in added]


async def revoke(conn: Connection, client_id: uuid.UUID, user_id: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM client_access WHERE client_id = $1 AND user_id = $2 RETURNING true", client_id, user_id
    )
    return bool(deleted)


async def contacts(conn: Connection, client_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {CONTACT_COLUMNS} FROM client_contacts WHERE client_id = $1 ORDER BY name, contact_id",
        client_id,
    )
    return [dict(r) for r in rows]


async def contact(conn: Connection, client_id: uuid.UUID, contact_id: uuid.UUID) -> dict[str, Any] | None:
    return row(
        await conn.fetchrow(
            f"SELECT {CONTACT_COLUMNS} FROM client_contacts WHERE client_id = $1 AND contact_id = $2",
            client_id,
            contact_id,
        )
    )


async def contact_ids_of(conn: Connection, client_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT contact_id FROM client_contacts WHERE client_id = $1 AND contact_id = ANY($2::uuid[])",
        client_id,
        list(ids),
    )
    return {r["contact_id"] for r in rows}


async def add_contact(conn: Connection, client_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
    result = await conn.fetchrow(
        f"""INSERT INTO client_contacts (contact_id, client_id, name, position, phone, email, decision_maker)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CONTACT_COLUMNS}""",
        uuid.uuid4(),
        client_id,
        *(fields[k] for k in CONTACT_EDITABLE),
    )
    assert result is not None
    return dict(result)


async def update_contact(conn: Connection, contact_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
    names = [k for k in changes if k in CONTACT_EDITABLE]
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    result = await conn.fetchrow(
        f"""UPDATE client_contacts SET {sets}, updated_at = now() WHERE contact_id = $1
            RETURNING {CONTACT_COLUMNS}""",
        contact_id,
        *(changes[n] for n in names),
    )
    assert result is not None
    return dict(result)


async def delete_contact(conn: Connection, contact_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM client_contacts WHERE contact_id = $1", contact_id)

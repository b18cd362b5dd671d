"""The audit trail: who changed what, when, before and after."""

from __future__ import annotations

import uuid
from typing import Any

from crmkit.db import Connection

from attentions.store import jsonable


async def record(
    conn: Connection,
    object_type: str,
    object_id: str | uuid.UUID,
    action: str,
    actor: str,
    before: Any = None,
    after: Any = None,
    *,
    client_id: uuid.UUID | None = None,
    nic: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (object_type, object_id, action, actor, client_id, nic, before, after)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        object_type,
        str(object_id),
        action,
        actor,
        client_id,
        nic,
        jsonable(before) if before is not None else None,
        jsonable(after) if after is not None else None,
    )


async def for_object(conn: Connection, object_type: str, object_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT audit_id, object_type, object_id, action, actor, at, client_id, nic, before, after
             FROM audit_log WHERE object_type = $1 AND object_id = $2 ORDER BY audit_id""",
        object_type,
        object_id,
    )
    return [dict(r) for r in rows]

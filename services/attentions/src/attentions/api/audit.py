"""The audit trail of one object: who changed it, when, and the object before and after.

Readable by whoever may see the object: client-scoped rows (clients, access lists, contacts, attentions and
events of a client) need the client's access list or admin; suministro-scoped rows any staff; the staff
directory's history admins only. Anyone else gets 404.
"""

from __future__ import annotations

from typing import Any, Literal

from crmkit.problems import not_found
from fastapi import APIRouter

from attentions.api.deps import StaffCtx
from attentions.domain.access import may_see_subject
from attentions.store import audit as store
from attentions.store import clients as client_store

router = APIRouter(tags=["audit"])
ObjectType = Literal["client", "contact", "attention", "event", "staff"]


@router.get("/audit/{object_type}/{object_id}")
async def object_history(ctx: StaffCtx, object_type: ObjectType, object_id: str) -> dict[str, Any]:
    async with ctx.connection() as conn:
        rows = await store.for_object(conn, object_type, object_id)
        if not rows:
            raise not_found(object_type)
        client_id = rows[0]["client_id"]
        if client_id is not None:
            on_list = ctx.viewer.is_admin or await client_store.has_access(
                conn, client_id, ctx.viewer.user_id
            )
            if not may_see_subject(ctx.viewer, "client", on_list):
                raise not_found(object_type)
        elif rows[0]["nic"] is None and not ctx.viewer.is_admin:
            raise not_found(object_type)  # the staff directory's history: admins only
    return {"object_type": object_type, "object_id": object_id, "entries": rows}

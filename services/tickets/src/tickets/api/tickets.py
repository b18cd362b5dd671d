"""The TICKET menu: tickets are read here and worked (accepted, closed, reopened) in COMANDA only.

There is deliberately no endpoint that creates, edits or closes a ticket.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from crmkit.problems import not_found, unprocessable
from fastapi import APIRouter, Query

from tickets.api.deps import StaffContext
from tickets.api.schemas import TicketDetail, TicketPage, ticket_out
from tickets.domain.tickets import Audience, Status, can_see
from tickets.store import tickets as store
from tickets.store import work_orders as orders

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("", response_model=TicketPage, summary="List the tickets the caller may see")
async def list_tickets(
    ctx: StaffContext,
    status: Annotated[list[Status] | None, Query(description="One or more statuses.")] = None,
    responsible: Annotated[str | None, Query(description="User id of the responsible person.")] = None,
    area: Annotated[str | None, Query(description="Responsible person's area.")] = None,
    due_from: Annotated[date | None, Query(description="Due on or after this date.")] = None,
    due_to: Annotated[date | None, Query(description="Due on or before this date.")] = None,
    overdue: Annotated[bool | None, Query(description="Open after the due date (or not).")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Tickets of this client.")] = None,
    nic: Annotated[str | None, Query(description="Tickets of this supply point (suministro).")] = None,
    event_id: Annotated[uuid.UUID | None, Query()] = None,
    attention_id: Annotated[uuid.UUID | None, Query()] = None,
    code: Annotated[str | None, Query(description="Exact ticket code.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    if due_from and due_to and due_from > due_to:
        raise unprocessable("due_from", "range_order", "due_from must not be after due_to")
    filters = store.TicketFilters(
        status=status or (),
        responsible=responsible,
        area=area,
        due_from=due_from,
        due_to=due_to,
        overdue=overdue,
        client_id=client_id,
        nic=nic,
        event_id=event_id,
        attention_id=attention_id,
        code=code,
    )
    today = ctx.today()
    async with ctx.connection() as conn:
        rows, total = await store.list_tickets(conn, ctx.viewer, filters, today, limit, offset)
    return {"items": [ticket_out(r, today) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{ticket_id}", response_model=TicketDetail, summary="One ticket, its history and work orders")
async def get_ticket(ctx: StaffContext, ticket_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.connection() as conn:
        row = await store.get_ticket(conn, ticket_id)
        if row is None or not await sees(conn, ctx, row):
            raise not_found("ticket")
        history = await store.history(conn, ticket_id)
        work_orders = await orders.of_ticket(conn, ticket_id)
    return {
        **ticket_out(row, ctx.today()),
        "history": [dict(h) for h in history],
        "work_orders": [dict(w) for w in work_orders],
    }


async def sees(conn: Any, ctx: StaffContext, row: Any, prefix: str = "") -> bool:
    """Whether the caller may see the ticket of ``row`` (columns named with ``prefix``)."""
    audience = Audience(
        responsible_id=row[f"{prefix}responsible_id"],
        cc_ids=frozenset(row[f"{prefix}cc_ids"]),
        subject_kind=row[f"{prefix}subject_kind"],
        client_id=row[f"{prefix}client_id"],
    )
    if can_see(ctx.viewer, audience, has_client_access=False):
        return True
    return can_see(
        ctx.viewer, audience, await store.has_client_access(conn, audience.client_id, ctx.viewer.user_id)
    )

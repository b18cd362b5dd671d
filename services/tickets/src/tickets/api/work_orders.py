"""The ORDENES TÉCNICAS menu: technical work orders, their workflow, audit trail and printable PDF.

Every change (creation, edit of a draft, each transition) is one transaction: the order, its audit row and
the ``tickets.work_order.changed`` event commit together. The rules are in ``domain.work_orders``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any

from crm_contracts.events.tickets import WorkOrderChanged
from crmkit.db import Connection
from crmkit.problems import not_found, unprocessable
from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from tickets.api.deps import Context, StaffContext
from tickets.api.schemas import (
    TransitionIn,
    WorkOrderDetail,
    WorkOrderIn,
    WorkOrderPage,
    WorkOrderPatch,
    audit_out,
    work_order_out,
)
from tickets.api.tickets import sees
from tickets.domain import work_orders as rules
from tickets.pdf import render_work_order
from tickets.store import tickets as tickets_store
from tickets.store import work_orders as store

router = APIRouter(prefix="/work-orders", tags=["work orders"])

PAST = {
    "submit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "start": "started",
    "complete": "completed",
    "cancel": "cancelled",
}


@router.get("", response_model=WorkOrderPage, summary="List work orders")
async def list_work_orders(
    ctx: StaffContext,
    status: Annotated[list[rules.Status] | None, Query()] = None,
    work_type: Annotated[list[rules.WorkType] | None, Query()] = None,
    requested_from: Annotated[date | None, Query(description="Requested on or after this date.")] = None,
    requested_to: Annotated[date | None, Query(description="Requested on or before this date.")] = None,
    area: Annotated[str | None, Query(description="Responsible area of the ticket.")] = None,
    ticket_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    if requested_from and requested_to and requested_from > requested_to:
        raise unprocessable("requested_from", "range_order", "requested_from must not be after requested_to")
    filters = store.OrderFilters(
        status=status or (),
        work_type=work_type or (),
        requested_from=requested_from,
        requested_to=requested_to,
        area=area,
        ticket_id=ticket_id,
    )
    async with ctx.connection() as conn:
        rows, total = await store.list_orders(
            conn, ctx.viewer, rules.can_see_all_orders(ctx.actor), filters, limit, offset
        )
    return {"items": [work_order_out(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=201, response_model=WorkOrderDetail, summary="Create a draft work order")
async def create_work_order(ctx: StaffContext, body: WorkOrderIn) -> dict[str, Any]:
    order_id = uuid.uuid4()
    async with ctx.transaction() as conn:
        ticket = await tickets_store.get_ticket(conn, body.ticket_id)
        if ticket is None or not await sees(conn, ctx, ticket):
            raise unprocessable("ticket_id", "unknown_ticket", "no such ticket")
        rules.check_new_order(
            ticket_area=ticket["responsible_area"],
            ticket_status=ticket["status"],
            nic=body.nic,
            address=body.address,
            technical_areas=ctx.settings.technical_areas,
        )
        code = await store.next_code(conn, ctx.now().astimezone(ctx.tz).year)
        await store.insert(
            conn,
            {
                "id": order_id,
                "code": code,
                "ticket_id": body.ticket_id,
                "area": ticket["responsible_area"],
                "work_type": body.work_type,
                "nic": body.nic,
                "address": body.address,
                "description": body.description,
                "requested_date": body.requested_date,
                "crew_notes": body.crew_notes,
                "created_by": ctx.user.user_id,
                "created_by_name": ctx.user.name,
            },
        )
        return await _record(conn, ctx, order_id, "created", None, None)


@router.get("/{order_id}", response_model=WorkOrderDetail, summary="One work order and its audit trail")
async def get_work_order(ctx: StaffContext, order_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.connection() as conn:
        await _visible_order(conn, ctx, order_id)
        return await _detail(conn, order_id)


@router.patch("/{order_id}", response_model=WorkOrderDetail, summary="Change fields of a draft")
async def edit_work_order(ctx: StaffContext, order_id: uuid.UUID, body: WorkOrderPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name in ("work_type", "description", "requested_date"):
        if name in changes and changes[name] is None:
            raise unprocessable(name, "required", f"{name} cannot be removed")
    async with ctx.transaction() as conn:
        row = await _visible_order(conn, ctx, order_id, for_update=True)
        rules.check_edit(ctx.actor, _facts(row))
        nic = changes.get("nic", row["nic"])
        address = changes.get("address", row["address"])
        rules.check_location(nic, address)
        await store.update_fields(conn, order_id, changes)
        return await _record(conn, ctx, order_id, "updated", row["status"], None)


async def _transition(
    ctx: Context, order_id: uuid.UUID, action: rules.Action, body: TransitionIn | None
) -> dict[str, Any]:
    body = body or TransitionIn()
    async with ctx.transaction() as conn:
        row = await _visible_order(conn, ctx, order_id, for_update=True)
        move = rules.decide_transition(
            ctx.actor, _facts(row), action, comment=body.comment, completion_report=body.completion_report
        )
        await store.move(conn, order_id, move, ctx.user.user_id, ctx.user.name)
        return await _record(conn, ctx, order_id, PAST[action], move.from_status, move.comment)


def _route(action: rules.Action, summary: str) -> None:
    async def endpoint(
        ctx: StaffContext, order_id: uuid.UUID, body: Annotated[TransitionIn | None, Body()] = None
    ) -> dict[str, Any]:
        return await _transition(ctx, order_id, action, body)

    endpoint.__name__ = f"{action}_work_order"
    router.add_api_route(
        f"/{{order_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=WorkOrderDetail,
        summary=summary,
    )


_route("submit", "Submit a draft for approval")
_route("approve", "Approve a submitted order (technical manager; comment required)")
_route("reject", "Reject a submitted order (technical manager; comment required)")
_route("start", "Start the execution of an approved order")
_route("complete", "Complete an order in execution (completion report required)")
_route("cancel", "Cancel an order that is not final (comment required)")


@router.get(
    "/{order_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The printable order"}},
    summary="Printable order for the field crew (approved orders only)",
)
async def work_order_pdf(ctx: StaffContext, order_id: uuid.UUID) -> Response:
    async with ctx.connection() as conn:
        row = await _visible_order(conn, ctx, order_id)
    rules.check_printable(row["status"])
    content = await asyncio.to_thread(
        render_work_order, dict(row), company=ctx.settings.company_name, timezone=ctx.settings.timezone
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{row["code"]}.pdf"'},
    )


# -- helpers ---------------------------------------------------------------------------------------------


def _facts(row: Any) -> rules.OrderFacts:
    return rules.OrderFacts(row["status"], row["created_by"], row["ticket_responsible_id"])


async def _visible_order(
    conn: Connection, ctx: Context, order_id: uuid.UUID, for_update: bool = False
) -> Any:
    row = await store.get(conn, order_id, for_update=for_update)
    if row is None:
        raise not_found("work order")
    if not rules.can_see_all_orders(ctx.actor) and not await sees(conn, ctx, row, prefix="ticket_"):
        raise not_found("work order")
    return row


async def _detail(conn: Connection, order_id: uuid.UUID) -> dict[str, Any]:
    row = await store.get(conn, order_id)
    assert row is not None
    return {**work_order_out(row), "audit": [audit_out(a) for a in await store.trail(conn, order_id)]}


async def _record(
    conn: Connection,
    ctx: Context,
    order_id: uuid.UUID,
    transition: str,
    previous_status: str | None,
    comment: str | None,
) -> dict[str, Any]:
    """Audit and publish what just happened to the order, in the caller's transaction."""
    row = await store.get(conn, order_id)
    assert row is not None
    await store.audit(
        conn, order_id, transition, previous_status, row["status"], ctx.user.user_id, ctx.user.name, comment
    )
    await ctx.outbox.add(
        conn,
        WorkOrderChanged(
            work_order_id=row["id"],
            code=row["code"],
            ticket_id=row["ticket_id"],
            status=row["status"],
            transition=transition,
            work_type=row["work_type"],
            nic=row["nic"],
            address=row["address"],
            requested_date=row["requested_date"],
            changed_by=ctx.user.user_id,
            changed_at=ctx.now(),
            comment=comment,
            previous_status=previous_status,
            area=row["area"],
            description=row["description"],
            crew_notes=row["crew_notes"],
            completion_report=row["completion_report"],
        ),
    )
    return await _detail(conn, order_id)

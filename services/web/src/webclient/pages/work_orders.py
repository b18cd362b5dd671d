"""ÓRDENES TÉCNICAS: list, detail with the actions the workflow allows, new order on a ticket, printable PDF.

The page offers approve/reject only to technical managers; the tickets service decides (403 otherwise).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from webclient import labels
from webclient.api import ApiError
from webclient.errors import UserError
from webclient.web import NotFound, Page, file_response, page, redirect, text, values

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]


@router.get("/ordenes", response_class=HTMLResponse)
async def list_orders(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {k: q.get(k, "") for k in ("status", "work_type", "ticket_id")}
    data = await p.api.get("tickets", "/work-orders", {**filters, "limit": limit, "offset": offset})
    return p.render("work_orders.html", data=data, pager=p.pager(data), filters=filters)


@router.get("/ordenes/nueva", response_class=HTMLResponse)
async def new_order_form(p: PageDep, ticket_id: uuid.UUID) -> HTMLResponse:
    ticket = await p.api.get("tickets", f"/tickets/{ticket_id}")
    nic = ticket["subject"]["nic"] or ""
    return p.render(
        "work_order_new.html", ticket=ticket, form={"nic": nic, "requested_date": p.today().isoformat()}
    )


@router.post("/ordenes/nueva")
async def create_order(p: PageDep) -> Response:
    form = await p.form()
    body: dict[str, Any] = {
        "ticket_id": text(form, "ticket_id"),
        "work_type": text(form, "work_type"),
        "description": text(form, "description"),
        "requested_date": text(form, "requested_date"),
    }
    for name in ("nic", "address", "crew_notes"):
        if text(form, name):
            body[name] = text(form, name)
    try:
        order = await p.api.post("tickets", "/work-orders", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        try:
            ticket = await p.api.get("tickets", f"/tickets/{uuid.UUID(body['ticket_id'])}")
        except (ValueError, ApiError):
            raise NotFound() from None
        return p.render("work_order_new.html", ticket=ticket, form=values(form), error=exc.error)
    return redirect(f"/ordenes/{order['id']}", "orden")


async def order_page(p: Page, order_id: uuid.UUID, error: UserError | None = None) -> HTMLResponse:
    order = await p.api.get("tickets", f"/work-orders/{order_id}")
    actions = []
    for action in labels.ORDER_NEXT.get(order["status"], ()):
        if action in ("approve", "reject") and not p.user.is_technical_manager:
            continue
        title, needs = labels.ORDER_ACTIONS[action]
        actions.append({"action": action, "title": title, "needs": needs})
    return p.render(
        "work_order.html",
        order=order,
        actions=actions,
        printable=order["status"] in ("approved", "in_execution", "completed"),
        waiting_manager=order["status"] == "submitted" and not p.user.is_technical_manager,
        error=error,
    )


@router.get("/ordenes/{order_id}", response_class=HTMLResponse)
async def show_order(p: PageDep, order_id: uuid.UUID) -> HTMLResponse:
    return await order_page(p, order_id)


@router.post("/ordenes/{order_id}/{action}")
async def move(p: PageDep, order_id: uuid.UUID, action: str) -> Response:
    form = await p.form()
    if action not in labels.ORDER_ACTIONS:
        raise NotFound()
    body = {k: text(form, k) for k in ("comment", "completion_report") if text(form, k)}
    try:
        await p.api.post("tickets", f"/work-orders/{order_id}/{action}", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await order_page(p, order_id, exc.error)
    return redirect(f"/ordenes/{order_id}", "orden-actualizada")


@router.get("/ordenes/{order_id}/pdf")
async def pdf(p: PageDep, order_id: uuid.UUID) -> Response:
    got = await p.api.download("tickets", f"/work-orders/{order_id}/pdf")
    return file_response(got.content, got.media_type, got.disposition)

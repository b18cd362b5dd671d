"""TICKETS: read-only list and detail, status as COMANDA reports it, links to the event and attention."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from webclient.web import Page, page

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]


@router.get("/tickets", response_class=HTMLResponse)
async def list_tickets(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {k: q.get(k, "") for k in ("code", "status", "overdue", "responsible", "due_to")}
    data = await p.api.get("tickets", "/tickets", {**filters, "limit": limit, "offset": offset})
    for t in data["items"]:
        t["urgency"] = p.urgency(t["due_date"], t["status"] != "closed")
    return p.render("tickets.html", data=data, pager=p.pager(data), filters=filters)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def show_ticket(p: PageDep, ticket_id: uuid.UUID) -> HTMLResponse:
    ticket = await p.api.get("tickets", f"/tickets/{ticket_id}")
    return p.render(
        "ticket.html", ticket=ticket, urgency=p.urgency(ticket["due_date"], ticket["status"] != "closed")
    )

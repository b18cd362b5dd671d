"""EVENTOS: list, detail with its parent attention and tickets, new ticket (responsible, CC, due date no
later than the internal date: checked in the browser before submit and by the API), close."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from webclient.api import ApiError
from webclient.errors import UserError
from webclient.pages.clients import staff
from webclient.web import Page, page, redirect, text, values

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]


@router.get("/eventos", response_class=HTMLResponse)
async def list_events(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {k: q.get(k, "") for k in ("q", "status", "due_before")}
    data = await p.api.get("attentions", "/events", {**filters, "limit": limit, "offset": offset})
    for e in data["items"]:
        e["urgency"] = p.urgency(e["internal_commitment_date"], e["status"] == "open")
    return p.render("events.html", data=data, pager=p.pager(data), filters=filters)


async def event_page(p: Page, event_id: uuid.UUID, error: UserError | None = None,
                     form: dict[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
    event = await p.api.get("attentions", f"/events/{event_id}")
    people = await staff(p)
    names = {s["user_id"]: s["name"] for s in people}
    for t in event["tickets"]:
        t["urgency"] = p.urgency(t["due_date"], t["status"] != "closed")
        t["responsible_name"] = names.get(t["responsible_id"], t["responsible_id"])
    open_tickets = [t for t in event["tickets"] if t["status"] != "closed"]
    upload_error = p.request.query_params.get("error_adjunto")
    return p.render(
        "event.html",
        event=event,
        staff=people,
        open_tickets=open_tickets,
        urgency=p.urgency(event["internal_commitment_date"], event["status"] == "open"),
        error=error,
        upload_error=upload_error,
        form=form or {"due_date": event["internal_commitment_date"]},
    )


@router.get("/eventos/{event_id}", response_class=HTMLResponse)
async def show_event(p: PageDep, event_id: uuid.UUID) -> HTMLResponse:
    return await event_page(p, event_id)


@router.post("/eventos/{event_id}/tickets")
async def create_ticket(p: PageDep, event_id: uuid.UUID) -> Response:
    form = await p.form()
    body: dict[str, Any] = {
        "responsibility": text(form, "responsibility"),
        "due_date": text(form, "due_date"),
        "responsible_id": text(form, "responsible_id"),
        "cc_ids": [c for c in form.getlist("cc_ids") if isinstance(c, str) and c],
    }
    if text(form, "ticket_type"):
        body["ticket_type"] = text(form, "ticket_type")
    try:
        await p.api.post("attentions", f"/events/{event_id}/tickets", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await event_page(p, event_id, exc.error, values(form))
    return redirect(f"/eventos/{event_id}", "ticket")


@router.post("/eventos/{event_id}/adjuntos")
async def attach(p: PageDep, event_id: uuid.UUID) -> Response:
    form = await p.form()
    error = await p.upload_all(f"/events/{event_id}/attachments", await p.pdfs(form))
    if error:
        return await event_page(p, event_id, error)
    return redirect(f"/eventos/{event_id}", "adjunto")


@router.post("/eventos/{event_id}/cerrar")
async def close(p: PageDep, event_id: uuid.UUID) -> Response:
    form = await p.form()
    note = text(form, "note")
    try:
        await p.api.post("attentions", f"/events/{event_id}/close", {"note": note} if note else {})
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await event_page(p, event_id, exc.error)
    return redirect(f"/eventos/{event_id}", "cerrado")

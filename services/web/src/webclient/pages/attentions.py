"""ATENCIONES: list, detail with attachments and events, new event (with PDFs), close; and the attention
form shared by a client's and a suministro's pages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from webclient.api import ApiError
from webclient.errors import UserError
from webclient.web import Page, file_response, page, redirect, text, values

router = APIRouter()
PageDep = Annotated[Page, Depends(page)]


def attention_body(p: Page, form: FormData) -> dict[str, Any]:
    """The API body of a new attention from the form (happened_at in the local time zone)."""
    raw = text(form, "happened_at")
    happened: str = raw
    try:
        local = datetime.fromisoformat(raw)
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(p.settings.timezone))
        happened = local.isoformat()
    except ValueError:
        pass  # the API names the field
    names = [n.strip() for n in text(form, "contact_names").split(",") if n.strip()]
    return {
        "channel": text(form, "channel"),
        "subject": text(form, "subject"),
        "description": text(form, "description"),
        "happened_at": happened,
        "contact_ids": [c for c in form.getlist("contact_ids") if isinstance(c, str) and c],
        "contact_names": names,
    }


async def create_attention(
    p: Page, create_path: str, form: FormData
) -> tuple[dict[str, Any] | None, UserError | None]:
    """Register the attention, then attach its PDFs; (attention, the first error)."""
    files = await p.pdfs(form)
    try:
        attention = await p.api.post("attentions", create_path, attention_body(p, form))
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return None, exc.error
    error = await p.upload_all(f"/attentions/{attention['attention_id']}/attachments", files)
    return attention, error


def now_local(p: Page) -> str:
    return datetime.now(ZoneInfo(p.settings.timezone)).strftime("%Y-%m-%dT%H:%M")


@router.get("/atenciones", response_class=HTMLResponse)
async def list_attentions(p: PageDep) -> HTMLResponse:
    limit, offset = p.paging()
    q = p.request.query_params
    filters = {k: q.get(k, "") for k in ("q", "status", "channel", "subject_kind")}
    data = await p.api.get("attentions", "/attentions", {**filters, "limit": limit, "offset": offset})
    return p.render("attentions.html", data=data, pager=p.pager(data), filters=filters)


async def attention_page(p: Page, attention_id: uuid.UUID, error: UserError | None = None,
                         form: dict[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
    attention = await p.api.get("attentions", f"/attentions/{attention_id}")
    events = await p.api.get("attentions", f"/attentions/{attention_id}/events")
    open_events = [e for e in events if e["status"] == "open"]
    for e in events:
        e["urgency"] = p.urgency(e["internal_commitment_date"], e["status"] == "open")
    return p.render(
        "attention.html",
        attention=attention,
        events=events,
        open_events=open_events,
        error=error,
        form=form or {},
    )


@router.get("/atenciones/{attention_id}", response_class=HTMLResponse)
async def show_attention(p: PageDep, attention_id: uuid.UUID) -> HTMLResponse:
    return await attention_page(p, attention_id)


@router.post("/atenciones/{attention_id}/eventos")
async def create_event(p: PageDep, attention_id: uuid.UUID) -> Response:
    form = await p.form()
    body = {
        "title": text(form, "title"),
        "description": text(form, "description"),
        "client_commitment_date": text(form, "client_commitment_date"),
        "internal_commitment_date": text(form, "internal_commitment_date"),
    }
    files = await p.pdfs(form)
    try:
        event = await p.api.post("attentions", f"/attentions/{attention_id}/events", body)
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await attention_page(p, attention_id, exc.error, values(form))
    error = await p.upload_all(f"/events/{event['event_id']}/attachments", files)
    if error:
        return redirect(f"/eventos/{event['event_id']}", "evento", error_adjunto=error.message)
    return redirect(f"/eventos/{event['event_id']}", "evento")


@router.post("/atenciones/{attention_id}/adjuntos")
async def attach(p: PageDep, attention_id: uuid.UUID) -> Response:
    form = await p.form()
    error = await p.upload_all(f"/attentions/{attention_id}/attachments", await p.pdfs(form))
    if error:
        return await attention_page(p, attention_id, error)
    return redirect(f"/atenciones/{attention_id}", "adjunto")


@router.post("/atenciones/{attention_id}/cerrar")
async def close(p: PageDep, attention_id: uuid.UUID) -> Response:
    form = await p.form()
    try:
        await p.api.post("attentions", f"/attentions/{attention_id}/close", {"note": text(form, "note")})
    except ApiError as exc:
        exc.reraise_unless_form_error()
        return await attention_page(p, attention_id, exc.error, values(form))
    return redirect(f"/atenciones/{attention_id}", "cerrada")


@router.get("/adjuntos/{attachment_id}")
async def download(p: PageDep, attachment_id: uuid.UUID) -> Response:
    got = await p.api.download("attentions", f"/attachments/{attachment_id}/content")
    return file_response(got.content, got.media_type, got.disposition)

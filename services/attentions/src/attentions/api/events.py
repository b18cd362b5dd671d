"""Events (macro-tasks): listed, shown with their parent attention, closed; tickets are created here.

Ticket creation and event closure both take the event row's lock (SELECT ... FOR UPDATE) first, so they run
one after the other for one event: a ticket is either accepted while the event is open (and then blocks its
closure until the tickets service reports it closed) or refused because the event is closed.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from crm_contracts.events.attentions import EventClosed
from crm_contracts.events.common import Person
from crm_contracts.events.tickets import TicketRequested
from crmkit.db import Connection
from crmkit.problems import not_found
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from attentions.api.attentions import check_subject_visible, subject_of
from attentions.api.clients import check_active_staff
from attentions.api.deps import Context, PageQ, StaffCtx
from attentions.domain import closure, dates
from attentions.store import attachments as attachment_store
from attentions.store import audit
from attentions.store import events as store

router = APIRouter(tags=["events"])


class EventCloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(default=None, max_length=5000, description="Resolution of the macro-task.")


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    responsibility: str = Field(min_length=1, max_length=5000, description="What must be done.")
    due_date: date = Field(description="Not after the event's internal commitment date.")
    responsible_id: str = Field(min_length=1, max_length=64, description="An active staff member.")
    cc_ids: list[str] = Field(default_factory=list, max_length=20, description="Staff who get a copy.")
    ticket_type: str | None = Field(
        default=None, max_length=50, description="Kind of ticket; selects the escalation ladder (optional)."
    )


async def visible_event(ctx: Context, conn: Connection, event_id: uuid.UUID, *, lock: bool = False) -> dict:
    """The event (with its attention's summary) if the caller may see its subject; else 404."""
    event = await store.get(conn, event_id, lock=lock)
    if event is None:
        raise not_found("event")
    await check_subject_visible(ctx, conn, event["subject_kind"], event["client_id"], "event")
    return event


def parent_attention(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "attention_id": event["attention_id"],
        "code": event["attention_code"],
        "subject": event["attention_subject"],
        "status": event["attention_status"],
        "subject_kind": event["subject_kind"],
        "client_id": event["client_id"],
        "nic": event["nic"],
        "subject_name": event["subject_name"],
    }


def public(event: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "attention_code",
        "attention_subject",
        "attention_status",
        "subject_kind",
        "client_id",
        "nic",
        "subject_name",
    )
    return {**{k: v for k, v in event.items() if k not in keys}, "attention": parent_attention(event)}


def person(member: dict[str, Any]) -> Person:
    return Person(user_id=member["user_id"], name=member["name"], email=member["email"], area=member["area"])


@router.get("/events")
async def list_events(
    ctx: StaffCtx,
    page: PageQ,
    status: Literal["open", "closed"] | None = None,
    attention_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Code or title contains.")] = None,
    due_before: date | None = None,
) -> Response:
    async with ctx.connection() as conn:
        items, total = await store.search(
            conn,
            ctx.viewer,
            status=status,
            attention_id=attention_id,
            q=q,
            due_before=due_before,
            limit=page.limit,
            offset=page.offset,
        )
    return page.wrap([public(e) for e in items], total)


@router.get("/events/{event_id}")
async def get_event(ctx: StaffCtx, event_id: uuid.UUID) -> dict[str, Any]:
    """The event, its parent attention, its tickets and attachments."""
    async with ctx.connection() as conn:
        event = public(await visible_event(ctx, conn, event_id))
        event["tickets"] = await store.tickets(conn, event_id)
        event["attachments"] = await attachment_store.for_event(conn, event_id)
    event["tickets_total"] = len(event["tickets"])
    event["tickets_closed"] = sum(1 for t in event["tickets"] if t["status"] == "closed")
    return event


@router.post("/events/{event_id}/close")
async def close_event(ctx: StaffCtx, event_id: uuid.UUID, body: EventCloseIn | None = None) -> Response:
    """Closes the event when every ticket under it is closed (409 naming how many are not)."""
    actor = ctx.user.user_id
    note = body.note if body else None
    async with ctx.transaction() as conn:
        before = await visible_event(ctx, conn, event_id, lock=True)
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        closure.check_event_can_close(before["status"], await store.count_open_tickets(conn, event_id))
        after = await store.close(conn, event_id, actor, note)
        await audit.record(
            conn,
            "event",
            event_id,
            "closed",
            actor,
            public(before),
            public(after),
            client_id=after["client_id"],
            nic=after["nic"],
        )
        await ctx.outbox.add(
            conn,
            EventClosed(
                event_id=event_id,
                attention_id=after["attention_id"],
                closed_by=actor,
                closed_at=after["closed_at"],
            ),
        )
        return await ctx.answer(conn, 200, public(after))


@router.get("/events/{event_id}/tickets")
async def list_event_tickets(ctx: StaffCtx, event_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_event(ctx, conn, event_id)
        return await store.tickets(conn, event_id)


@router.post("/events/{event_id}/tickets", status_code=201)
async def create_ticket(ctx: StaffCtx, event_id: uuid.UUID, body: TicketIn) -> Response:
    """Accepts a ticket on an open event, in one transaction with the event row locked, and emits
    TicketRequested; the tickets service creates the ticket and assigns it (COMANDA, email)."""
    actor = ctx.user.user_id
    async with ctx.transaction() as conn:
        event = await visible_event(ctx, conn, event_id, lock=True)
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        closure.check_event_open(event["status"])
        dates.check_ticket_due_date(body.due_date, event["internal_commitment_date"])
        cc_ids = [u for u in dict.fromkeys(body.cc_ids) if u != body.responsible_id]
        responsible = await check_active_staff(conn, [body.responsible_id], "responsible_id")
        cc = await check_active_staff(conn, cc_ids, "cc_ids", indexed=True) if cc_ids else {}
        ticket = await store.insert_ticket(
            conn,
            ticket_id=uuid.uuid4(),
            year=ctx.code_year(),
            event_id=event_id,
            responsibility=body.responsibility,
            due_date=body.due_date,
            responsible_id=body.responsible_id,
            cc_ids=cc_ids,
            requested_by=actor,
        )
        await audit.record(
            conn,
            "event",
            event_id,
            "ticket.requested",
            actor,
            None,
            ticket,
            client_id=event["client_id"],
            nic=event["nic"],
        )
        await ctx.outbox.add(
            conn,
            TicketRequested(
                ticket_id=ticket["ticket_id"],
                code=ticket["code"],
                responsibility=ticket["responsibility"],
                due_date=ticket["due_date"],
                responsible=person(responsible[body.responsible_id]),
                cc=[person(cc[u]) for u in cc_ids],
                event_id=event_id,
                event_code=event["code"],
                event_title=event["title"],
                event_internal_commitment_date=event["internal_commitment_date"],
                attention_id=event["attention_id"],
                attention_code=event["attention_code"],
                subject=subject_of(event),
                requested_by=actor,
                ticket_type=body.ticket_type,
            ),
        )
        return await ctx.answer(conn, 201, ticket)

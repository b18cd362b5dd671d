"""Attentions: created only under a client or a suministro; listed, shown, closed here.

Creation lives on the subject (``POST /clients/{id}/attentions``, ``POST /supply-points/{nic}/attentions``);
events are created from an open attention (``POST /attentions/{id}/events``). Closing needs every event under
it closed (domain.closure), checked with the attention row locked so no event can slip in meanwhile.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from crm_contracts.events.attentions import AttentionClosed, AttentionOpened, EventOpened
from crm_contracts.events.common import Subject
from crmkit.db import Connection
from crmkit.instants import Instant
from crmkit.problems import not_found
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from attentions.api.deps import Context, PageQ, StaffCtx
from attentions.domain import closure, dates
from attentions.domain.access import may_see_subject
from attentions.domain.errors import RuleBroken
from attentions.store import attachments as attachment_store
from attentions.store import attentions as store
from attentions.store import audit
from attentions.store import clients as client_store
from attentions.store import events as event_store
from attentions.store import supply_points as supply_point_store

router = APIRouter(tags=["attentions"])
Channel = Literal["phone", "email", "letter", "visit", "web", "other"]
Status = Literal["open", "closed"]
Tab = Literal["open", "closed", "all"]


class AttentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    subject: str = Field(min_length=1, max_length=300, description="Short subject line.")
    description: str = Field(default="", max_length=20_000)
    happened_at: Instant = Field(description="When the interaction or milestone happened.")
    contact_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="Contacts of the client involved."
    )
    contact_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="Other people involved, by name."
    )


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(min_length=1, max_length=5000, description="Closing note.")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    client_commitment_date: date = Field(description="Date promised to the client (YYYY-MM-DD).")
    internal_commitment_date: date = Field(description="Internal deadline, earlier than the client date.")


def subject_of(attention: dict[str, Any]) -> Subject:
    return Subject(
        kind=attention["subject_kind"],
        client_id=attention["client_id"],
        nic=attention["nic"],
        display_name=attention.get("subject_name") or attention.get("nic") or "",
    )


async def visible_attention(
    ctx: Context, conn: Connection, attention_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    """The attention if the caller may see its subject; 404 alike for "missing" and "no access"."""
    attention = await store.get(conn, attention_id, lock=lock)
    if attention is None:
        raise not_found("attention")
    await check_subject_visible(ctx, conn, attention["subject_kind"], attention["client_id"], "attention")
    return attention


async def check_subject_visible(
    ctx: Context, conn: Connection, subject_kind: str, client_id: uuid.UUID | None, what: str
) -> None:
    on_list = False
    if subject_kind == "client" and not ctx.viewer.is_admin and client_id is not None:
        on_list = await client_store.has_access(conn, client_id, ctx.viewer.user_id)
    if not may_see_subject(ctx.viewer, subject_kind, on_list):
        raise not_found(what)


async def open_attention(
    ctx: Context,
    conn: Connection,
    body: AttentionIn,
    *,
    client_id: uuid.UUID | None,
    nic: str | None,
) -> dict[str, Any]:
    """Registers an attention under a client or a suministro, with its audit row and AttentionOpened.

    The subject's existence and the caller's access are checked by the INSERT itself (store.attentions.insert,
    one statement, which writes the outbox row too): a client the caller may not see is "not found",
    exactly like a missing one. Being one statement, it needs no transaction of its own.
    """
    if body.contact_ids:
        if client_id is None:
            raise RuleBroken.one(
                "contact_ids", "client_contacts_only", "a suministro has no contacts; use contact_names"
            )
        if await client_store.visible(conn, client_id, ctx.viewer) is None:
            raise not_found("client")
        known = await client_store.contact_ids_of(conn, client_id, body.contact_ids)
        unknown = [i for i, c in enumerate(body.contact_ids) if c not in known]
        if unknown:
            raise RuleBroken.one(
                f"contact_ids[{unknown[0]}]",
                "contact_of_client",
                "the contact does not belong to this client",
            )
    attention_id = uuid.uuid4()
    opened = AttentionOpened(
        attention_id=attention_id,
        code="",  # the statement fills in the code it draws and the subject's name
        subject=Subject(
            kind="client" if client_id is not None else "supply_point",
            client_id=client_id,
            nic=nic,
            display_name="",
        ),
        channel=body.channel,
        summary=body.subject,
        happened_at=body.happened_at,
        registered_by=ctx.viewer.user_id,
    )
    attention = await store.insert(
        conn,
        viewer=ctx.viewer,
        attention_id=attention_id,
        year=ctx.code_year(),
        client_id=client_id,
        nic=nic,
        channel=body.channel,
        subject=body.subject,
        description=body.description,
        happened_at=body.happened_at,
        contact_ids=list(dict.fromkeys(body.contact_ids)),
        contact_names=body.contact_names,
        opened=ctx.outbox.row(opened),
    )
    if attention is None:
        if nic is not None and await supply_point_store.get(conn, nic) is not None:
            raise RuleBroken.one(
                "nic", "supply_point_retired", "the supply point was retired in FACTELEC", kind="conflict"
            )
        raise not_found("client" if client_id is not None else "supply point")
    return {**attention, "events_total": 0, "events_closed": 0}


@router.get("/attentions")
async def list_attentions(
    ctx: StaffCtx,
    page: PageQ,
    status: Status | None = None,
    channel: Channel | None = None,
    subject_kind: Literal["client", "supply_point"] | None = None,
    client_id: uuid.UUID | None = None,
    nic: str | None = None,
    registered_by: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Code or subject contains.")] = None,
    happened_from: Instant | None = None,
    happened_to: Instant | None = None,
) -> Response:
    """Attentions the caller may see, newest first, each with its progress (events closed / total)."""
    async with ctx.connection() as conn:
        items, total = await store.search(
            conn,
            ctx.viewer,
            status=status,
            channel=channel,
            subject_kind=subject_kind,
            client_id=client_id,
            nic=nic,
            registered_by=registered_by,
            q=q,
            happened_from=happened_from,
            happened_to=happened_to,
            limit=page.limit,
            offset=page.offset,
        )
    return page.wrap(items, total)


@router.get("/attentions/{attention_id}")
async def get_attention(ctx: StaffCtx, attention_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.connection() as conn:
        attention = await visible_attention(ctx, conn, attention_id)
        attention.update(await store.detail_extras(conn, attention_id))
        attention["attachments"] = await attachment_store.for_attention(conn, attention_id)
        contacts = []
        if attention["client_id"] is not None and attention["contact_ids"]:
            known = {c["contact_id"]: c for c in await client_store.contacts(conn, attention["client_id"])}
            contacts = [known.get(c, {"contact_id": c, "removed": True}) for c in attention["contact_ids"]]
        attention["contacts"] = contacts
    return attention


@router.post("/attentions/{attention_id}/close")
async def close_attention(ctx: StaffCtx, attention_id: uuid.UUID, body: CloseIn) -> Response:
    async with ctx.transaction() as conn:
        before = await visible_attention(ctx, conn, attention_id, lock=True)
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        closure.check_attention_can_close(before["status"], await store.count_open_events(conn, attention_id))
        after = await store.close(conn, attention_id, ctx.user.user_id, body.note)
        await audit.record(
            conn,
            "attention",
            attention_id,
            "closed",
            ctx.user.user_id,
            before,
            after,
            client_id=after["client_id"],
            nic=after["nic"],
        )
        await ctx.outbox.add(
            conn,
            AttentionClosed(
                attention_id=attention_id,
                closed_by=ctx.user.user_id,
                closed_at=after["closed_at"],
                note=body.note,
            ),
        )
        return await ctx.answer(conn, 200, after)


@router.get("/attentions/{attention_id}/events")
async def list_attention_events(ctx: StaffCtx, attention_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_attention(ctx, conn, attention_id)
        return await event_store.for_attention(conn, attention_id)


@router.post("/attentions/{attention_id}/events", status_code=201)
async def create_event(ctx: StaffCtx, attention_id: uuid.UUID, body: EventIn) -> Response:
    """An event (macro-task) under an OPEN attention; the internal date is before the client date."""
    actor = ctx.user.user_id
    async with ctx.transaction() as conn:
        # The attention's row lock orders this against a concurrent closure of the attention.
        attention = await visible_attention(ctx, conn, attention_id, lock=True)
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        closure.check_attention_open(attention["status"])
        dates.check_event_dates(body.internal_commitment_date, body.client_commitment_date)
        event = await event_store.insert(
            conn,
            event_id=uuid.uuid4(),
            year=ctx.code_year(),
            attention_id=attention_id,
            title=body.title,
            description=body.description,
            client_commitment_date=body.client_commitment_date,
            internal_commitment_date=body.internal_commitment_date,
            created_by=actor,
        )
        await audit.record(
            conn,
            "event",
            event["event_id"],
            "created",
            actor,
            None,
            event,
            client_id=attention["client_id"],
            nic=attention["nic"],
        )
        await ctx.outbox.add(
            conn,
            EventOpened(
                event_id=event["event_id"],
                attention_id=attention_id,
                code=event["code"],
                subject=subject_of(attention),
                title=event["title"],
                client_commitment_date=event["client_commitment_date"],
                internal_commitment_date=event["internal_commitment_date"],
                created_by=actor,
            ),
        )
        return await ctx.answer(conn, 201, event)

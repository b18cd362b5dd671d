"""Clients (prospects and stakeholders; an internal client is a stakeholder marked internal), their access
lists ("+ Agregar usuario") and contacts.

Access (domain.access): the access list and admins; anyone else gets 404 for the client and everything
under it. Changes publish ClientUpserted / ClientAccessGranted / ClientAccessRevoked and write audit rows.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked, ClientUpserted
from crmkit.db import Connection
from crmkit.problems import not_found
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from attentions.api.attentions import AttentionIn, Tab, open_attention
from attentions.api.deps import Context, PageQ, StaffCtx, json_response
from attentions.domain import codes
from attentions.domain.access import initial_access_list
from attentions.domain.errors import RuleBroken, Violation
from attentions.domain.staff import EMAIL
from attentions.store import attentions as attention_store
from attentions.store import audit
from attentions.store import clients as store
from attentions.store import staff as staff_store

router = APIRouter(tags=["clients"])
Kind = Literal["prospect", "stakeholder"]


class ClientFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    internal: bool = Field(default=False, description="An internal client: only for stakeholders.")
    name: str = Field(min_length=1, max_length=300)
    tax_id: str | None = Field(
        default=None, max_length=40, description="NIT.", examples=["0614-010190-101-5"]
    )
    sector: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    phones: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)
    notes: str | None = Field(default=None, max_length=5000)


def check_internal(kind: str, internal: bool) -> None:
    """An internal client is a stakeholder marked internal; a prospect cannot be internal."""
    if internal and kind != "stakeholder":
        raise RuleBroken.one(
            "internal",
            "internal_is_stakeholder",
            "an internal client must be a stakeholder (internal: true needs kind: stakeholder)",
        )


class ClientIn(ClientFields):
    access_user_ids: list[str] = Field(
        default_factory=list, max_length=100, description="Staff who may see the client, besides the creator."
    )


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind | None = None
    internal: bool | None = None
    name: str | None = Field(default=None, min_length=1, max_length=300)
    tax_id: str | None = Field(default=None, max_length=40)
    sector: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    phones: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=10
    )
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)
    notes: str | None = Field(default=None, max_length=5000)


class AccessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)
    decision_maker: bool = False


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)
    decision_maker: bool | None = None


def upserted(client: dict[str, Any]) -> ClientUpserted:
    return ClientUpserted(
        client_id=client["client_id"],
        code=client["code"],
        kind=client["kind"],
        internal=client["internal"],
        name=client["name"],
        tax_id=client["tax_id"],
        sector=client["sector"],
    )


async def visible_client(ctx: Context, conn: Connection, client_id: uuid.UUID, *, lock: bool = False) -> dict:
    """The client if the caller may see it; 404 alike for "does not exist" and "no access"."""
    client = await store.visible(conn, client_id, ctx.viewer, lock=lock)
    if client is None:
        raise not_found("client")
    return client


async def check_active_staff(
    conn: Connection, user_ids: list[str], field: str, *, indexed: bool = False
) -> dict[str, dict[str, Any]]:
    """Every user is an active staff member; else a 422 naming each one (``cc_ids[1]``)."""
    found = await staff_store.get_many(conn, user_ids)
    bad = [
        Violation(
            f"{field}[{i}]" if indexed else field,
            "active_staff_member",
            f"{u!r} is not an active staff member",
            {"user_id": u},
        )
        for i, u in enumerate(user_ids)
        if u not in found or not found[u]["active"]
    ]
    if bad:
        raise RuleBroken(bad)
    return found


@router.post("/clients", status_code=201)
async def create_client(ctx: StaffCtx, body: ClientIn) -> Response:
    check_internal(body.kind, body.internal)
    fields = body.model_dump(exclude={"access_user_ids"})
    client_id = uuid.uuid4()
    actor = ctx.user.user_id
    async with ctx.transaction() as conn:
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        added = [u for u in dict.fromkeys(body.access_user_ids) if u != actor]
        if added:
            await check_active_staff(conn, added, "access_user_ids", indexed=True)
        code = codes.client_code(await store.next_code_number(conn))
        client = await store.insert(conn, client_id, code, fields, actor)
        users = initial_access_list(actor, added)
        await store.grant(conn, client_id, users, actor)
        await audit.record(conn, "client", client_id, "created", actor, None, client, client_id=client_id)
        await audit.record(
            conn, "client", client_id, "access.granted", actor, None, {"user_ids": users}, client_id=client_id
        )
        await ctx.outbox.add_many(
            conn,
            [upserted(client)]
            + [ClientAccessGranted(client_id=client_id, user_id=u, granted_by=actor) for u in users],
        )
        return await ctx.answer(conn, 201, {**client, "access": users})


@router.get("/clients")
async def list_clients(
    ctx: StaffCtx,
    page: PageQ,
    q: Annotated[str | None, Query(max_length=200, description="Name, code or NIT contains.")] = None,
    kind: Kind | None = None,
    internal: bool | None = None,
) -> Response:
    async with ctx.connection() as conn:
        items, total = await store.search(
            conn, ctx.viewer, q=q, kind=kind, internal=internal, limit=page.limit, offset=page.offset
        )
    return page.wrap(items, total)


@router.get("/clients/{client_id}")
async def get_client(ctx: StaffCtx, client_id: uuid.UUID) -> dict[str, Any]:
    async with ctx.connection() as conn:
        client = await visible_client(ctx, conn, client_id)
        client["contacts"] = await store.contacts(conn, client_id)
        client["access"] = await store.access_list(conn, client_id)
    return client


@router.patch("/clients/{client_id}")
async def update_client(ctx: StaffCtx, client_id: uuid.UUID, body: ClientPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name in ("kind", "name"):
        if name in changes and changes[name] is None:
            raise RuleBroken.one(name, "required", f"{name} cannot be null")
    if "internal" in changes and changes["internal"] is None:
        raise RuleBroken.one("internal", "required", "internal cannot be null")
    if "phones" in changes and changes["phones"] is None:
        changes["phones"] = []
    async with ctx.transaction() as conn:
        before = await visible_client(ctx, conn, client_id, lock=True)
        merged = {**before, **changes}
        check_internal(merged["kind"], merged["internal"])
        if not changes:
            return before
        after = await store.update(conn, client_id, changes)
        await audit.record(
            conn, "client", client_id, "updated", ctx.user.user_id, before, after, client_id=client_id
        )
        await ctx.outbox.add(conn, upserted(after))
    return after


# -- access list -----------------------------------------------------------------------------------------


@router.get("/clients/{client_id}/access")
async def list_access(ctx: StaffCtx, client_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_client(ctx, conn, client_id)
        return await store.access_list(conn, client_id)


@router.post("/clients/{client_id}/access", status_code=201)
async def grant_access(ctx: StaffCtx, client_id: uuid.UUID, body: AccessIn) -> list[dict[str, Any]]:
    """ "+ Agregar usuario": the user may see the client and everything under it from now on."""
    actor = ctx.user.user_id
    async with ctx.transaction() as conn:
        await visible_client(ctx, conn, client_id, lock=True)
        await check_active_staff(conn, [body.user_id], "user_id")
        added = await store.grant(conn, client_id, [body.user_id], actor)
        if added:
            await audit.record(
                conn,
                "client",
                client_id,
                "access.granted",
                actor,
                None,
                {"user_id": body.user_id},
                client_id=client_id,
            )
            await ctx.outbox.add(
                conn, ClientAccessGranted(client_id=client_id, user_id=body.user_id, granted_by=actor)
            )
        return await store.access_list(conn, client_id)


@router.delete("/clients/{client_id}/access/{user_id}")
async def revoke_access(ctx: StaffCtx, client_id: uuid.UUID, user_id: str) -> list[dict[str, Any]]:
    """Takes effect at once: every request checks the list in the database."""
    actor = ctx.user.user_id
    async with ctx.transaction() as conn:
        await visible_client(ctx, conn, client_id, lock=True)
        if not await store.revoke(conn, client_id, user_id):
            raise not_found("user on the access list")
        await audit.record(
            conn,
            "client",
            client_id,
            "access.revoked",
            actor,
            {"user_id": user_id},
            None,
            client_id=client_id,
        )
        await ctx.outbox.add(
            conn, ClientAccessRevoked(client_id=client_id, user_id=user_id, revoked_by=actor)
        )
        return await store.access_list(conn, client_id)


# -- contacts ----------------------------------------------------------------------------------------------


@router.get("/clients/{client_id}/contacts")
async def list_contacts(ctx: StaffCtx, client_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        await visible_client(ctx, conn, client_id)
        return await store.contacts(conn, client_id)


@router.post("/clients/{client_id}/contacts", status_code=201)
async def add_contact(ctx: StaffCtx, client_id: uuid.UUID, body: ContactIn) -> Response:
    async with ctx.transaction() as conn:
        await visible_client(ctx, conn, client_id)
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        contact = await store.add_contact(conn, client_id, body.model_dump())
        await audit.record(
            conn,
            "contact",
            contact["contact_id"],
            "created",
            ctx.user.user_id,
            None,
            contact,
            client_id=client_id,
        )
        return await ctx.answer(conn, 201, contact)


@router.patch("/clients/{client_id}/contacts/{contact_id}")
async def update_contact(
    ctx: StaffCtx, client_id: uuid.UUID, contact_id: uuid.UUID, body: ContactPatch
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise RuleBroken.one("name", "required", "name cannot be null")
    if "decision_maker" in changes and changes["decision_maker"] is None:
        raise RuleBroken.one("decision_maker", "required", "decision_maker cannot be null")
    async with ctx.transaction() as conn:
        await visible_client(ctx, conn, client_id)
        before = await store.contact(conn, client_id, contact_id)
        if before is None:
            raise not_found("contact")
        if not changes:
            return before
        after = await store.update_contact(conn, contact_id, changes)
        await audit.record(
            conn, "contact", contact_id, "updated", ctx.user.user_id, before, after, client_id=client_id
        )
    return after


@router.delete("/clients/{client_id}/contacts/{contact_id}", status_code=204)
async def remove_contact(ctx: StaffCtx, client_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    async with ctx.transaction() as conn:
        await visible_client(ctx, conn, client_id)
        before = await store.contact(conn, client_id, contact_id)
        if before is None:
            raise not_found("contact")
        await store.delete_contact(conn, contact_id)
        await audit.record(
            conn, "contact", contact_id, "removed", ctx.user.user_id, before, None, client_id=client_id
        )


# -- attentions of a client ----------------------------------------------------------------------------


@router.post("/clients/{client_id}/attentions", status_code=201)
async def create_client_attention(ctx: StaffCtx, client_id: uuid.UUID, body: AttentionIn) -> Response:
    if not ctx.sent_idempotency_key:  # one statement: atomic without a transaction
        async with ctx.connection() as conn:
            return json_response(await open_attention(ctx, conn, body, client_id=client_id, nic=None), 201)
    async with ctx.transaction() as conn:
        if (replayed := await ctx.replay(conn)) is not None:
            await visible_client(ctx, conn, client_id)
            return replayed
        attention = await open_attention(ctx, conn, body, client_id=client_id, nic=None)
        return await ctx.answer(conn, 201, attention)


@router.get("/clients/{client_id}/attentions")
async def client_attentions(
    ctx: StaffCtx,
    client_id: uuid.UUID,
    page: PageQ,
    status: Annotated[Tab, Query(description="The three tabs: open, closed, all.")] = "all",
) -> Response:
    async with ctx.connection() as conn:
        await visible_client(ctx, conn, client_id)
        items, total = await attention_store.search(
            conn,
            ctx.viewer,
            client_id=client_id,
            status=None if status == "all" else status,
            limit=page.limit,
            offset=page.offset,
        )
    return page.wrap(items, total)


@router.get("/clients/{client_id}/history")
async def client_history(ctx: StaffCtx, client_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every attention of the client, newest first, with its events."""
    async with ctx.connection() as conn:
        await visible_client(ctx, conn, client_id)
        return await attention_store.history(conn, client_id=client_id, nic=None)

"""Suministros: the read-only FACTELEC replica (handlers.py keeps it). Every staff member may see them and
their attentions; attentions on a suministro behave as on a client."""

from __future__ import annotations

from typing import Annotated, Any

from crmkit.problems import not_found
from fastapi import APIRouter, Query, Response

from attentions.api.attentions import AttentionIn, Tab, open_attention
from attentions.api.deps import PageQ, StaffCtx, json_response
from attentions.store import attentions as attention_store
from attentions.store import supply_points as store

router = APIRouter(tags=["supply points"])


@router.get("/supply-points")
async def list_supply_points(
    ctx: StaffCtx,
    page: PageQ,
    q: Annotated[str | None, Query(max_length=200, description="NIC is, or holder/address contains.")] = None,
    nic: Annotated[str | None, Query(max_length=40)] = None,
    holder: Annotated[str | None, Query(max_length=200)] = None,
    address: Annotated[str | None, Query(max_length=300)] = None,
    include_retired: bool = False,
) -> Response:
    async with ctx.connection() as conn:
        items, total = await store.search(
            conn,
            q=q,
            nic=nic,
            holder=holder,
            address=address,
            include_retired=include_retired,
            limit=page.limit,
            offset=page.offset,
        )
    return page.wrap(items, min(total, 10_000), total_exact=total <= 10_000)


@router.get("/supply-points/{nic}")
async def get_supply_point(ctx: StaffCtx, nic: str) -> dict[str, Any]:
    async with ctx.connection() as conn:
        supply_point = await store.get(conn, nic)
    if supply_point is None:
        raise not_found("supply point")
    return supply_point


@router.get("/supply-points/{nic}/attentions")
async def supply_point_attentions(ctx: StaffCtx, nic: str, page: PageQ, status: Tab = "all") -> Response:
    async with ctx.connection() as conn:
        if await store.get(conn, nic) is None:
            raise not_found("supply point")
        items, total = await attention_store.search(
            conn,
            ctx.viewer,
            nic=nic,
            status=None if status == "all" else status,
            limit=page.limit,
            offset=page.offset,
        )
    return page.wrap(items, total)


@router.get("/supply-points/{nic}/history")
async def supply_point_history(ctx: StaffCtx, nic: str) -> list[dict[str, Any]]:
    async with ctx.connection() as conn:
        if await store.get(conn, nic) is None:
            raise not_found("supply point")
        return await attention_store.history(conn, client_id=None, nic=nic)


@router.post("/supply-points/{nic}/attentions", status_code=201)
async def create_supply_point_attention(ctx: StaffCtx, nic: str, body: AttentionIn) -> Response:
    if not ctx.sent_idempotency_key:  # one statement: atomic without a transaction
        async with ctx.connection() as conn:
            return json_response(await open_attention(ctx, conn, body, client_id=None, nic=nic), 201)
    async with ctx.transaction() as conn:
        if (replayed := await ctx.replay(conn)) is not None:
            return replayed
        attention = await open_attention(ctx, conn, body, client_id=None, nic=nic)
        return await ctx.answer(conn, 201, attention)

"""Staff directory: everyone reads it (to pick people); admins change it, one by one or by CSV import.

Every change publishes ``StaffMemberUpserted`` (the whole record) through the outbox.
"""

from __future__ import annotations

from typing import Annotated, Any

from crm_contracts.events.staff import StaffMemberUpserted
from crmkit.db import Connection
from crmkit.outbox import Outbox
from crmkit.problems import not_found
from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from attentions.api.deps import AdminCtx, PageQ, StaffCtx
from attentions.domain.access import ROLES
from attentions.domain.errors import RuleBroken
from attentions.domain.staff import StaffRecord, check_managers, check_record, parse_staff_csv
from attentions.store import audit
from attentions.store import staff as store

router = APIRouter(prefix="/staff", tags=["staff"])
CSV_MAX_BYTES = 2 * 1024 * 1024


class StaffFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    area: str = Field(min_length=1, max_length=200, examples=["Gerencia Técnica"])
    manager_id: str | None = Field(default=None, description="User id of the manager (escalation chain).")
    roles: list[str] = Field(default_factory=list, examples=[["agent"]])
    active: bool = True


class StaffIn(StaffFields):
    user_id: str = Field(
        min_length=1, max_length=64, description="Stable id: the `sub` of the user's tokens."
    )


class StaffPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    area: str | None = Field(default=None, min_length=1, max_length=200)
    manager_id: str | None = None
    roles: list[str] | None = None
    active: bool | None = None


def _event(member: dict[str, Any]) -> StaffMemberUpserted:
    return StaffMemberUpserted(
        user_id=member["user_id"],
        name=member["name"],
        email=member["email"],
        area=member["area"],
        manager_id=member["manager_id"],
        roles=[r for r in member["roles"] if r in ROLES],
        active=member["active"],
    )


async def save_members(
    conn: Connection, outbox: Outbox, records: list[StaffRecord], actor: str
) -> list[dict]:
    """Validates (fields, managers, no loops) and upserts; unchanged records publish nothing."""
    field_of = {r.user_id: "manager_id" for r in records}
    violations = [v for r in records for v in check_record(r)]
    if violations:
        raise RuleBroken(violations)
    existing = await store.managers(conn)
    violations = check_managers(records, existing, field_of)
    if violations:
        raise RuleBroken(violations)
    return await upsert_members(conn, outbox, records, actor)


async def upsert_members(
    conn: Connection, outbox: Outbox, records: list[StaffRecord], actor: str
) -> list[dict]:
    before_all = await store.get_many(conn, [r.user_id for r in records])
    saved: list[dict[str, Any]] = []
    events = []
    for record in records:
        before = before_all.get(record.user_id)
        after = await store.upsert(conn, record)
        saved.append(after)
        if before is not None and _same(before, after):
            continue
        await audit.record(
            conn,
            "staff",
            record.user_id,
            "created" if before is None else "updated",
            actor,
            _snapshot(before),
            _snapshot(after),
        )
        events.append(_event(after))
    if events:
        await outbox.add_many(conn, events)
    return saved


def _snapshot(member: dict[str, Any] | None) -> dict[str, Any] | None:
    if member is None:
        return None
    return {k: member[k] for k in ("user_id", "name", "email", "area", "manager_id", "roles", "active")}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _snapshot(a) == _snapshot(b)


def _record(user_id: str, fields: StaffFields | dict[str, Any]) -> StaffRecord:
    data = fields.model_dump() if isinstance(fields, BaseModel) else fields
    return StaffRecord(
        user_id=user_id,
        name=data["name"],
        email=data["email"],
        area=data["area"],
        manager_id=data.get("manager_id") or None,
        roles=tuple(dict.fromkeys(data.get("roles") or ())),
        active=data.get("active", True),
    )


@router.get("")
async def list_staff(
    ctx: StaffCtx,
    page: PageQ,
    q: Annotated[str | None, Query(max_length=200, description="Name, user id or email contains.")] = None,
    area: str | None = None,
    role: str | None = None,
    active: bool | None = None,
) -> Response:
    async with ctx.connection() as conn:
        items, total = await store.search(
            conn, q=q, area=area, role=role, active=active, limit=page.limit, offset=page.offset
        )
    return page.wrap(items, total)


@router.get("/{user_id}")
async def get_staff(ctx: StaffCtx, user_id: str) -> dict[str, Any]:
    async with ctx.connection() as conn:
        member = await store.get(conn, user_id)
    if member is None:
        raise not_found("staff member")
    return member


@router.post("", status_code=201)
async def create_staff(ctx: AdminCtx, body: StaffIn) -> dict[str, Any]:
    async with ctx.transaction() as conn:
        if await store.get(conn, body.user_id, lock=True) is not None:
            raise RuleBroken.one(
                "user_id", "unique", f"staff member {body.user_id!r} exists already", kind="conflict"
            )
        [saved] = await save_members(conn, ctx.outbox, [_record(body.user_id, body)], ctx.user.user_id)
    return saved


@router.put("/{user_id}")
async def replace_staff(ctx: AdminCtx, user_id: str, body: StaffFields) -> dict[str, Any]:
    """Creates or replaces the whole record."""
    async with ctx.transaction() as conn:
        [saved] = await save_members(conn, ctx.outbox, [_record(user_id, body)], ctx.user.user_id)
    return saved


@router.patch("/{user_id}")
async def update_staff(ctx: AdminCtx, user_id: str, body: StaffPatch) -> dict[str, Any]:
    async with ctx.transaction() as conn:
        current = await store.get(conn, user_id, lock=True)
        if current is None:
            raise not_found("staff member")
        changes = body.model_dump(exclude_unset=True)
        for name in ("name", "email", "area", "roles", "active"):
            if name in changes and changes[name] is None:
                raise RuleBroken.one(name, "required", f"{name} cannot be null")
        merged = {**current, **changes}
        [saved] = await save_members(conn, ctx.outbox, [_record(user_id, merged)], ctx.user.user_id)
    return saved


@router.delete("/{user_id}")
async def deactivate_staff(ctx: AdminCtx, user_id: str) -> dict[str, Any]:
    """Staff are never deleted (tickets and audit rows name them): they are deactivated."""
    async with ctx.transaction() as conn:
        current = await store.get(conn, user_id, lock=True)
        if current is None:
            raise not_found("staff member")
        [saved] = await upsert_members(
            conn, ctx.outbox, [_record(user_id, {**current, "active": False})], ctx.user.user_id
        )
    return saved


@router.post("/import")
async def import_staff(
    ctx: AdminCtx,
    file: Annotated[UploadFile, File(description="CSV: user_id,name,email,area,manager_id,roles,active")],
) -> dict[str, Any]:
    """All or nothing: every broken row is named (``rows[3].email``) and nothing is written then."""
    content = await file.read(CSV_MAX_BYTES + 1)
    if len(content) > CSV_MAX_BYTES:
        raise RuleBroken.one(
            "file", "max_size", f"the CSV is larger than {CSV_MAX_BYTES} bytes", kind="too_large"
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise RuleBroken.one("file", "csv_encoding", "the CSV must be UTF-8 text") from None
    records = parse_staff_csv(text)
    field_of = {r.user_id: f"rows[{i}].manager_id" for i, r in enumerate(records, start=1)}
    async with ctx.transaction() as conn:
        existing = await store.managers(conn)
        violations = check_managers(records, existing, field_of)
        if violations:
            raise RuleBroken(violations)
        before = await store.get_many(conn, [r.user_id for r in records])
        saved = await upsert_members(conn, ctx.outbox, records, ctx.user.user_id)
    created = sum(1 for r in records if r.user_id not in before)
    unchanged = sum(1 for s in saved if s["user_id"] in before and _same(before[s["user_id"]], s))
    return {
        "imported": len(records),
        "created": created,
        "updated": len(records) - created - unchanged,
        "unchanged": unchanged,
    }

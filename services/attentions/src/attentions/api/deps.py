"""What every router needs: the runtime's pool and outbox, the caller, and a transaction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from crmkit.auth import Principal, authenticated, forbidden
from crmkit.db import Connection
from crmkit.outbox import Outbox
from crmkit.runtime import ServiceRuntime
from fastapi import Depends, Query, Request, Response

from attentions.domain import codes
from attentions.domain.access import ADMIN, STAFF_ROLES, Viewer
from attentions.settings import Settings


class Context:
    """One request's view of the service: database, outbox, settings and the caller."""

    def __init__(self, runtime: ServiceRuntime, settings: Settings, user: Principal) -> None:
        self.runtime = runtime
        self.settings = settings
        self.user = user
        self.viewer = Viewer(user.user_id, user.is_admin)

    @property
    def outbox(self) -> Outbox:
        return self.runtime.outbox

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.runtime.pool.acquire() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Everything a request changes commits together (state, audit rows, outbox events) or not at all."""
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            yield conn

    def now(self) -> datetime:
        return datetime.now(UTC)

    def code_year(self) -> int:
        return codes.code_year(self.now(), ZoneInfo(self.settings.timezone))


def _context(request: Request, user: Principal) -> Context:
    return Context(request.app.state.runtime, request.app.state.settings, user)


async def staff_context(request: Request) -> Context:
    """The caller must hold a staff role (any of them). One flat dependency: each level of nested FastAPI
    dependencies costs on every request, and this one runs on all of them."""
    user = await authenticated(request)
    if not user.has_any(STAFF_ROLES):
        raise forbidden(STAFF_ROLES)
    return _context(request, user)


async def admin_context(request: Request) -> Context:
    user = await authenticated(request)
    if not user.is_admin:
        raise forbidden((ADMIN,))
    return _context(request, user)


StaffCtx = Annotated[Context, Depends(staff_context)]
AdminCtx = Annotated[Context, Depends(admin_context)]


def json_response(data: Any, status_code: int = 200) -> Response:
    """JSON straight from the rows (orjson knows UUIDs, dates and datetimes): the lists and the attention
    creation are the hot paths, and FastAPI's response validation would cost more than the query."""
    content = orjson.dumps(data, default=_plain, option=orjson.OPT_UTC_Z)  # "...Z", as pydantic writes it
    return Response(content, status_code=status_code, media_type="application/json")


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID subclass, which orjson does not take as a UUID
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Page:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
        # Bounded: past a bigint PostgreSQL refuses it (a 500), and deep offsets are a slow scan anyway.
        offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset

    def wrap(self, items: list[Any], total: int, **extra: Any) -> Response:
        """A page of a list: ``items``, ``total``, ``limit``, ``offset`` (as JSON, see ``json_response``)."""
        return json_response(
            {"items": items, "total": total, "limit": self.limit, "offset": self.offset, **extra}
        )


PageQ = Annotated[Page, Depends()]

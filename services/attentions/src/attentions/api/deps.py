"""What every router needs: the runtime's pool and outbox, the caller, and a transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from crmkit.auth import Principal, authenticated, forbidden
from crmkit.db import Connection, transaction
from crmkit.http import json_response
from crmkit.idempotency import HEADER, IdempotencyKey
from crmkit.idempotency import answer as idempotent_answer
from crmkit.outbox import Outbox
from crmkit.runtime import ServiceRuntime
from fastapi import Depends, Query, Request, Response

from attentions.domain import codes
from attentions.domain.access import ADMIN, STAFF_ROLES, Viewer
from attentions.settings import Settings


class Context:
    """One request's view of the service: database, outbox, settings and the caller."""

    def __init__(
        self, runtime: ServiceRuntime, settings: Settings, user: Principal, request: Request
    ) -> None:
        self.runtime = runtime
        self.request = request
        self.settings = settings
        self.user = user
        self.viewer = Viewer(user.user_id, user.is_admin)
        self._key: IdempotencyKey | None = None
        self._key_read = False

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
        async with transaction(self.runtime.pool) as conn:
            yield conn

    @property
    def sent_idempotency_key(self) -> bool:
        return HEADER in self.request.headers

    async def replay(self, conn: Connection, *, content: bytes | None = None) -> Response | None:
        """The stored answer when the caller's ``Idempotency-Key`` names a write already applied (see
        crmkit.idempotency); first thing in a write's transaction, which must end with ``answer``."""
        self._key = await IdempotencyKey.of(self.request, self.user.user_id, content)
        self._key_read = True
        return await self._key.replay(conn) if self._key is not None else None

    async def answer(self, conn: Connection, status_code: int, content: Any) -> Response:
        """The write's answer, stored with the caller's key in the same transaction when it sent one."""
        if not self._key_read:
            raise RuntimeError("answer() without replay(): the idempotency key was never read")
        return await idempotent_answer(self._key, conn, status_code, content)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def code_year(self) -> int:
        return codes.code_year(self.now(), ZoneInfo(self.settings.timezone))


def _context(request: Request, user: Principal) -> Context:
    return Context(request.app.state.runtime, request.app.state.settings, user, request)


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

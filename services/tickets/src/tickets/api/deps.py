"""What every router needs: the runtime's pool and outbox, the settings, the caller, today's date."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from crmkit.auth import Principal, require_roles
from crmkit.db import Connection
from crmkit.outbox import Outbox
from crmkit.runtime import ServiceRuntime
from fastapi import Depends, Request

from tickets.domain.tickets import Viewer
from tickets.domain.work_orders import Actor
from tickets.settings import Settings

STAFF_ROLES = ("admin", "agent", "technical_manager")


class Context:
    """One request's view of the service."""

    def __init__(self, runtime: ServiceRuntime, settings: Settings, user: Principal) -> None:
        self.runtime = runtime
        self.settings = settings
        self.user = user
        self.viewer = Viewer(user.user_id, user.is_admin)
        self.actor = Actor(user.user_id, frozenset(user.roles))

    @property
    def outbox(self) -> Outbox:
        return self.runtime.outbox

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(self.tz).date()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.runtime.pool.acquire() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """State, audit rows and outbox events of a request commit together, or not at all."""
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            yield conn


async def staff_context(
    request: Request, user: Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
) -> Context:
    return Context(request.app.state.runtime, request.app.state.settings, user)


StaffContext = Annotated[Context, Depends(staff_context)]

"""HTTP API of the notifications service: the delivery log, and the rules in force.

Every route needs a bearer token (crmkit.auth). A staff member sees the messages sent to them; an
administrator (role ``admin``) sees every message and may put a failed one back in the queue.

- ``GET /messages``: the log, newest first; filters ``ticket_id``, ``event_id``, ``recipient_id``,
  ``status``, ``kind``, ``limit``, ``cursor`` (the ``next_cursor`` of the previous page);
- ``GET /tickets/{ticket_id}/messages``: the log of one ticket;
- ``GET /people/{user_id}/messages`` and ``GET /me/messages``: the log of one person;
- ``GET /messages/{id}``: one message;
- ``POST /messages/{id}/retry``: (admin) a failed or cancelled message goes back to pending;
- ``GET /rules``: the reminder, escalation and alert rules in force.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from crmkit.auth import CurrentUser, Principal, TokenVerifier, forbidden, install_auth
from crmkit.http import create_app
from crmkit.instants import check_instant
from crmkit.problems import conflict, not_found, unprocessable
from crmkit.runtime import ServiceRuntime
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field

from notifications.domain.rules import describe
from notifications.store import messages as store

if TYPE_CHECKING:
    from notifications.service import Parts

StatusName = Literal["pending", "retrying", "sent", "failed", "cancelled"]
KindName = Literal["assignment", "reminder", "escalation", "event_internal_overdue", "event_client_due"]


class RecipientOut(BaseModel):
    user_id: str
    name: str
    email: str
    role: Literal["to", "cc"]


class MessageOut(BaseModel):
    id: uuid.UUID
    kind: KindName
    status: StatusName = Field(
        description="pending (not tried yet), retrying (a transient failure; tried again at "
        "next_attempt_at), sent (accepted by the SMTP server), failed (permanent), cancelled."
    )
    subject: str
    recipient: RecipientOut
    ticket_id: uuid.UUID | None
    ticket_code: str | None
    event_id: uuid.UUID | None
    tier: int | None = Field(description="Escalation tier (1, 2, 3, ...), for escalations.")
    attempts: int
    interrupted_attempts: int = Field(
        description="Attempts cut short after the SMTP server may have taken the message (the sender died "
        "before recording the answer). Each was followed by a new send, which may have been a duplicate "
        "(same message_id)."
    )
    last_error: str | None = Field(description="The last failure: the SMTP server's answer or the error.")
    smtp_response: str | None = Field(description="The server's answer when it accepted the message.")
    message_id: str = Field(description="The Message-ID header, stable across retries.")
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


def _cursor(item: MessageOut) -> str:
    return f"{item.created_at.isoformat()}~{item.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        moment, _, ident = cursor.partition("~")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("no time zone")
        return check_instant(parsed), uuid.UUID(ident)
    except ValueError:
        raise unprocessable("cursor", "invalid_cursor", "cursor must be a next_cursor of this API") from None


def _out(row: dict[str, Any]) -> MessageOut:
    return MessageOut(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        subject=row["subject"],
        recipient=RecipientOut(
            user_id=row["recipient_id"],
            name=row["recipient_name"],
            email=row["recipient_email"],
            role=row["role"],
        ),
        ticket_id=row["ticket_id"],
        ticket_code=row["ticket_code"],
        event_id=row["event_id"],
        tier=row["tier"],
        attempts=row["attempts"],
        interrupted_attempts=row["interrupted_attempts"],
        last_error=row["last_error"],
        smtp_response=row["smtp_response"],
        message_id=row["message_id"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        sent_at=row["sent_at"],
        finished_at=row["finished_at"],
    )


def build_api(runtime: ServiceRuntime, parts: Parts) -> FastAPI:
    settings = parts.settings
    app = create_app(
        title="EDESAL CRM — notifications",
        readiness={"database": runtime.check_database, "broker": runtime.check_broker},
    )
    install_auth(app, TokenVerifier.from_settings(settings))
    router = APIRouter(tags=["delivery log"])

    async def page(user: Principal, limit: int, cursor: str | None, **filters: Any) -> MessagePage:
        if not user.is_admin:
            wanted = filters.get("recipient_id")
            if wanted is not None and wanted != user.user_id:
                raise forbidden(["admin"])
            filters["recipient_id"] = user.user_id
        after = _parse_cursor(cursor) if cursor else None
        async with runtime.pool.acquire() as conn:
            rows = await store.list_messages(conn, limit=limit, after=after, **filters)
        items = [_out(r) for r in rows]
        return MessagePage(items=items, next_cursor=_cursor(items[-1]) if len(items) == limit else None)

    Limit = Query(100, ge=1, le=500)

    @router.get("/messages", response_model=MessagePage)
    async def list_messages(
        user: CurrentUser,
        ticket_id: uuid.UUID | None = None,
        event_id: uuid.UUID | None = None,
        recipient_id: str | None = None,
        status: StatusName | None = None,
        kind: KindName | None = None,
        cursor: str | None = None,
        limit: int = Limit,
    ) -> MessagePage:
        return await page(
            user,
            limit,
            cursor,
            ticket_id=ticket_id,
            event_id=event_id,
            recipient_id=recipient_id,
            status=status,
            kind=kind,
        )

    @router.get("/tickets/{ticket_id}/messages", response_model=MessagePage)
    async def ticket_messages(
        ticket_id: uuid.UUID,
        user: CurrentUser,
        status: StatusName | None = None,
        cursor: str | None = None,
        limit: int = Limit,
    ) -> MessagePage:
        return await page(user, limit, cursor, ticket_id=ticket_id, status=status)

    @router.get("/people/{user_id}/messages", response_model=MessagePage)
    async def person_messages(
        user_id: str,
        user: CurrentUser,
        status: StatusName | None = None,
        cursor: str | None = None,
        limit: int = Limit,
    ) -> MessagePage:
        return await page(user, limit, cursor, recipient_id=user_id, status=status)

    @router.get("/me/messages", response_model=MessagePage)
    async def my_messages(
        user: CurrentUser,
        status: StatusName | None = None,
        cursor: str | None = None,
        limit: int = Limit,
    ) -> MessagePage:
        return await page(user, limit, cursor, recipient_id=user.user_id, status=status)

    @router.get("/messages/{message_id}", response_model=MessageOut)
    async def get_message(message_id: uuid.UUID, user: CurrentUser) -> MessageOut:
        async with runtime.pool.acquire() as conn:
            row = await store.get_message(conn, message_id)
        if row is None or (not user.is_admin and row["recipient_id"] != user.user_id):
            raise not_found("message")
        return _out(row)

    @router.post("/messages/{message_id}/retry", response_model=MessageOut)
    async def retry_message(message_id: uuid.UUID, user: CurrentUser) -> MessageOut:
        if not user.is_admin:
            raise forbidden(["admin"])
        async with runtime.pool.acquire() as conn, conn.transaction():
            previous = await store.requeue(conn, message_id, parts.clock.now())
            if previous is None:
                raise not_found("message")
            row = await store.get_message(conn, message_id)
        assert row is not None
        if previous not in ("failed", "cancelled") or row["status"] != "pending":
            raise conflict(
                "not_retryable",
                f"a {previous} message cannot be retried: only failed or cancelled ones with an address",
                status=previous,
            )
        return _out(row)

    @router.get("/rules")
    async def rules(user: CurrentUser) -> dict[str, Any]:
        return describe(parts.rules)

    app.include_router(router)
    return app

"""The email outbox and delivery log (``email_messages``).

Messages are inserted in the transaction of their cause (the consumed event's, or the scheduler tick's),
under a unique ``dedupe_key``: a second insert of the same key does nothing. The sender claims due
messages with ``FOR UPDATE SKIP LOCKED`` (several senders never take the same row) and writes each
outcome back in the same transaction. Before a round's messages go to the SMTP server, the round is
journalled in ``email_send_attempts`` (committed on another connection); recording the outcomes deletes it.
A journal row found for a message being claimed is the trace of a round that died after the server may have
taken the message.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmkit.db import Connection

from notifications.compose import Outgoing
from notifications.domain.delivery import Status
from notifications.domain.planning import EVENT_KINDS, TICKET_KINDS

NOTIFY_CHANNEL = "notifications_mail"
TICKET_CLOSED = "cancelled: the ticket was closed before this message was sent"
EVENT_CLOSED = "cancelled: the event was closed before this message was sent"


async def insert(conn: Connection, messages: Sequence[Outgoing]) -> int:
    """Record messages; those whose key is already recorded are skipped. Returns how many were new."""
    if not messages:
        return 0
    rows = await conn.fetch(
        """INSERT INTO email_messages (id, dedupe_key, kind, ticket_id, ticket_code, event_id,
               source_event_id, tier, recipient_id, recipient_name, recipient_email, role, subject,
               message_id, mime, status, last_error, created_at, next_attempt_at, finished_at)
           SELECT m.id, m.dedupe_key, m.kind, m.ticket_id, m.ticket_code, m.event_id, m.source_event_id,
                  m.tier, m.recipient_id, m.recipient_name, m.recipient_email, m.role, m.subject,
                  m.message_id, m.mime, m.status, m.last_error, m.created_at,
                  CASE WHEN m.status = 'pending' THEN m.created_at END,
                  CASE WHEN m.status = 'failed' THEN m.created_at END
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::uuid[],
                       $8::int[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                       $14::text[], $15::bytea[], $16::text[], $17::text[], $18::timestamptz[])
                AS m(id, dedupe_key, kind, ticket_id, ticket_code, event_id, source_event_id, tier,
                     recipient_id, recipient_name, recipient_email, role, subject, message_id, mime,
                     status, last_error, created_at)
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING id""",
        [m.id for m in messages],
        [m.dedupe_key for m in messages],
        [m.kind for m in messages],
        [m.ticket_id for m in messages],
        [m.ticket_code for m in messages],
        [m.event_id for m in messages],
        [m.source_event_id for m in messages],
        [m.tier for m in messages],
        [m.recipient.user_id for m in messages],
        [m.recipient.name for m in messages],
        [m.recipient.email for m in messages],
        [m.role for m in messages],
        [m.subject for m in messages],
        [m.message_id for m in messages],
        [m.mime for m in messages],
        [m.status for m in messages],
        [m.last_error for m in messages],
        [m.created_at for m in messages],
    )
    if any(m.status == "pending" for m in messages):
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return len(rows)


async def existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    rows = await conn.fetch(
        "SELECT dedupe_key FROM email_messages WHERE dedupe_key = ANY($1::text[])", list(keys)
    )
    return {r["dedupe_key"] for r in rows}


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    recipient_email: str
    mime: bytes
    attempts: int


async def claim_due(conn: Connection, now: datetime, limit: int) -> list[Claimed]:
    """Due messages, oldest first, locked for this transaction (others skip them)."""
    rows = await conn.fetch(
        """SELECT id, recipient_email, mime, attempts FROM email_messages
           WHERE status IN ('pending', 'retrying') AND next_attempt_at <= $1
           ORDER BY next_attempt_at, created_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [Claimed(r["id"], r["recipient_email"], r["mime"], r["attempts"]) for r in rows]


async def cancel_for_closed(conn: Connection, now: datetime) -> int:
    """Cancel waiting reminders, escalations and event alerts whose ticket or event has closed.

    The consumer cancels them when the closure arrives, but skips a row the sender holds at that moment; if
    that send then fails (the server is away), or the round stopped before it, the row would wait to be sent
    for a closed ticket. Checking at every round leaves only the message in flight at the closure, which
    was being sent anyway. Waiting messages are few (the scheduler records them when they are due)."""
    rows = await conn.fetch(
        """UPDATE email_messages SET status = 'cancelled', next_attempt_at = NULL, finished_at = $1,
                last_error = CASE WHEN ticket_id IS NOT NULL THEN $4 ELSE $5 END
            WHERE id IN (
                SELECT m.id FROM email_messages m
                 WHERE m.status IN ('pending', 'retrying')
                   AND ((m.kind = ANY($2::text[])
                         AND EXISTS (SELECT 1 FROM tickets t WHERE t.ticket_id = m.ticket_id AND t.closed))
                     OR (m.kind = ANY($3::text[])
                         AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = m.event_id AND e.closed)))
                 FOR UPDATE OF m SKIP LOCKED)
            RETURNING id""",
        now,
        list(TICKET_KINDS),
        list(EVENT_KINDS),
        TICKET_CLOSED,
        EVENT_CLOSED,
    )
    return len(rows)


async def journal_round(
    conn: Connection, round_id: uuid.UUID, ids: Sequence[uuid.UUID], at: datetime
) -> None:
    """Say (on its own connection, committed at once) that these messages are about to be sent."""
    await conn.execute(
        """INSERT INTO email_send_attempts (message_id, round_id, started_at)
           SELECT unnest($1::uuid[]), $2, $3""",
        list(ids),
        round_id,
        at,
    )


async def interrupted(conn: Connection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Of these claimed messages, those with an earlier round that never recorded its outcome. The caller
    holds their row locks, so no live round is sending them: that round died."""
    rows = await conn.fetch(
        "SELECT DISTINCT message_id FROM email_send_attempts WHERE message_id = ANY($1::uuid[])", list(ids)
    )
    return {r["message_id"] for r in rows}


@dataclass(frozen=True)
class Result:
    id: uuid.UUID
    status: Status
    attempts: int
    at: datetime
    next_attempt_at: datetime | None = None
    error: str | None = None
    response: str | None = None
    after_interruption: bool = False  # an earlier attempt died after the server may have taken it


async def record_round(conn: Connection, round_id: uuid.UUID, results: Sequence[Result]) -> None:
    """The outcomes of a round, and the end of its journal (and of the interrupted rounds it resent)."""
    if results:
        await conn.executemany(
            """UPDATE email_messages SET status = $2::text, attempts = $3, last_attempt_at = $4::timestamptz,
                   next_attempt_at = $5,
                   last_error = COALESCE($6::text, last_error),
                   smtp_response = COALESCE($7::text, smtp_response),
                   sent_at = CASE WHEN $2::text = 'sent' THEN $4::timestamptz ELSE sent_at END,
                   finished_at = CASE WHEN $2::text IN ('sent', 'failed') THEN $4::timestamptz END,
                   interrupted_attempts = interrupted_attempts + $8::int
               WHERE id = $1""",
            [
                (
                    r.id,
                    r.status,
                    r.attempts,
                    r.at,
                    r.next_attempt_at,
                    r.error,
                    r.response,
                    int(r.after_interruption),
                )
                for r in results
            ],
        )
    await conn.execute(
        "DELETE FROM email_send_attempts WHERE round_id = $1 OR message_id = ANY($2::uuid[])",
        round_id,
        [r.id for r in results if r.after_interruption],
    )


async def next_due_at(conn: Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(next_attempt_at) FROM email_messages WHERE status IN ('pending', 'retrying')"
    )
    return value


async def cancel_open(
    conn: Connection,
    *,
    kinds: Sequence[str],
    reason: str,
    at: datetime,
    ticket_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> int:
    """Cancel reminders/escalations not sent yet for a ticket (or event) that closed. A message the sender
    holds at this very moment is skipped (it is being sent)."""
    column, value = ("ticket_id", ticket_id) if ticket_id is not None else ("event_id", event_id)
    rows = await conn.fetch(
        f"""UPDATE email_messages SET status = 'cancelled', last_error = $3, next_attempt_at = NULL,
                finished_at = $4
            WHERE id IN (SELECT id FROM email_messages
                         WHERE {column} = $1 AND kind = ANY($2::text[])
                           AND status IN ('pending', 'retrying')
                         FOR UPDATE SKIP LOCKED)
            RETURNING id""",
        value,
        list(kinds),
        reason,
        at,
    )
    return len(rows)


async def requeue(conn: Connection, message_id: uuid.UUID, at: datetime) -> Status | None:
    """A failed or cancelled message goes back to pending (an administrator's decision). Returns the status
    it had, or None when it does not exist."""
    row = await conn.fetchrow(
        "SELECT status, length(mime) AS size FROM email_messages WHERE id = $1 FOR UPDATE", message_id
    )
    if row is None:
        return None
    status: Status = row["status"]
    if status in ("failed", "cancelled") and row["size"] > 0:
        await conn.execute(
            """UPDATE email_messages SET status = 'pending', next_attempt_at = $2, finished_at = NULL
               WHERE id = $1""",
            message_id,
            at,
        )
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return status


LOG_COLUMNS = """id, kind, ticket_id, ticket_code, event_id, source_event_id, tier, recipient_id,
    recipient_name, recipient_email, role, subject, message_id, status, attempts, interrupted_attempts,
    last_error, smtp_response,
    created_at, next_attempt_at, last_attempt_at, sent_at, finished_at"""


async def list_messages(
    conn: Connection,
    *,
    ticket_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    recipient_id: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The delivery log, newest first, filtered; ``after`` is the (created_at, id) of the last row of the
    previous page."""
    conditions: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("ticket_id", ticket_id),
        ("event_id", event_id),
        ("recipient_id", recipient_id),
        ("status", status),
        ("kind", kind),
    ):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    if after is not None:
        args += [after[0], after[1]]
        conditions.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {LOG_COLUMNS} FROM email_messages {where} "
        f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}",
        *args,
    )
    return [dict(r) for r in rows]


async def get_message(conn: Connection, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {LOG_COLUMNS} FROM email_messages WHERE id = $1", message_id)
    return dict(row) if row else None


async def status_counts(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*)::int AS n FROM email_messages GROUP BY status")
    return {r["status"]: r["n"] for r in rows}

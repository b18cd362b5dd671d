"""When things may close, and when things may be added under them.

An attention closes only when every event under it is closed; an event only when every ticket under it is
closed. Nothing is added under a closed attention or event. The callers hold the parent's row lock while
they ask, so the answer still holds when they commit.
"""

from __future__ import annotations

from datetime import datetime

from attentions.domain.errors import RuleBroken

OPEN = "open"
CLOSED = "closed"


def check_attention_open(status: str, *, field: str = "attention_id") -> None:
    if status != OPEN:
        raise RuleBroken.one(field, "attention_closed", "the attention is closed", kind="conflict")


def check_event_open(status: str, *, field: str = "event_id") -> None:
    if status != OPEN:
        raise RuleBroken.one(field, "event_closed", "the event is closed", kind="conflict")


def check_attention_can_close(status: str, open_events: int) -> None:
    check_attention_open(status)
    if open_events:
        raise RuleBroken.one(
            "attention_id",
            "events_still_open",
            f"the attention has {open_events} open event(s); close them first",
            kind="conflict",
            open_events=open_events,
        )


def check_event_can_close(status: str, open_tickets: int) -> None:
    check_event_open(status)
    if open_tickets:
        raise RuleBroken.one(
            "event_id",
            "tickets_still_open",
            f"the event has {open_tickets} ticket(s) not closed; they must be closed first",
            kind="conflict",
            open_tickets=open_tickets,
        )


def ticket_status_after(
    current_changed_at: datetime | None,
    new_status: str,
    changed_at: datetime,
    event_status: str,
) -> str | None:
    """The status a ticket takes when the tickets service reports ``new_status`` at ``changed_at``.

    None means "ignore": the report is not newer than the change already applied (events may arrive out of
    order or twice), or it would reopen a ticket under an event that is closed already (the caller records
    it apart; it is never applied, so no ticket is ever open under a closed event).
    """
    if current_changed_at is not None and changed_at <= current_changed_at:
        return None
    if new_status == OPEN and event_status == CLOSED:
        return None
    return new_status

"""Commitment dates: events promise a date to the client and set an earlier internal one; tickets are due
no later than their event's internal date."""

from __future__ import annotations

from datetime import date

from attentions.domain.errors import RuleBroken, Violation


def check_event_dates(internal_commitment_date: date, client_commitment_date: date) -> None:
    """The internal commitment date must be strictly earlier than the date promised to the client."""
    if internal_commitment_date < client_commitment_date:
        return
    message = (
        f"internal_commitment_date ({internal_commitment_date.isoformat()}) must be earlier than "
        f"client_commitment_date ({client_commitment_date.isoformat()})"
    )
    raise RuleBroken(
        [
            Violation("internal_commitment_date", "internal_before_client_commitment", message),
            Violation("client_commitment_date", "internal_before_client_commitment", message),
        ]
    )


def check_ticket_due_date(due_date: date, event_internal_commitment_date: date) -> None:
    """A ticket is due on or before the internal commitment date of its event."""
    if due_date <= event_internal_commitment_date:
        return
    raise RuleBroken.one(
        "due_date",
        "due_not_after_internal_commitment",
        f"due_date ({due_date.isoformat()}) must not be after the event's internal commitment date "
        f"({event_internal_commitment_date.isoformat()})",
        internal_commitment_date=event_internal_commitment_date.isoformat(),
    )

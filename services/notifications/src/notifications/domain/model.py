"""What the notifications service knows: its own projections of the staff directory, tickets and events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class StaffMember:
    user_id: str
    name: str
    email: str
    area: str = ""
    manager_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class TicketView:
    """An open (or closed) ticket as the reminders and escalations need it."""

    ticket_id: uuid.UUID
    code: str
    responsibility: str
    due_date: date
    responsible_id: str
    responsible_name: str
    responsible_email: str
    area: str
    event_id: uuid.UUID
    event_code: str
    event_title: str
    event_internal_date: date
    attention_code: str
    subject_name: str
    subject_kind: str = "client"
    subject_nic: str | None = None
    ticket_type: str | None = None
    assigned_at: datetime | None = None
    closed: bool = False


@dataclass(frozen=True)
class EventView:
    """An event (macro-task) with the number of its tickets this service knows to be open."""

    event_id: uuid.UUID
    code: str
    title: str
    attention_code: str | None
    subject_name: str
    client_commitment_date: date
    internal_commitment_date: date
    created_by: str
    open_tickets: int = 0
    closed: bool = False
    subject_kind: str = "client"
    subject_nic: str | None = None


@dataclass(frozen=True)
class Recipient:
    user_id: str
    name: str
    email: str

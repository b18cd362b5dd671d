"""Ticket (micro-task) events: the request from the attentions service, and the tickets service's facts.

``TicketAssigned`` is also the CRM -> COMANDA contract: it carries everything COMANDA needs to put the ticket
in the responsible person's inbox.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import EventModel
from crm_contracts.events.common import Person, Subject

TicketStatus = Literal["assigned", "accepted", "in_progress", "closed"]


class TicketFacts(EventModel):
    """Fields shared by the request and the assignment."""

    ticket_id: uuid.UUID
    code: str = Field(examples=["TCK-2026-000311"])
    responsibility: str = Field(description="What must be done.")
    due_date: date = Field(description="Due date; never after the event's internal commitment date.")
    responsible: Person
    cc: list[Person] = Field(default_factory=list, description="People who get a copy.")
    event_id: uuid.UUID
    event_code: str
    event_title: str
    event_internal_commitment_date: date
    attention_id: uuid.UUID
    attention_code: str
    subject: Subject
    requested_by: str
    ticket_type: str | None = Field(
        default=None,
        description="Kind of ticket (e.g. `defecto`, `facturacion`); selects an escalation ladder.",
    )

    def partition_key(self) -> str:
        return str(self.ticket_id)


class TicketRequested(TicketFacts):
    """The attentions service accepted a new ticket on an open event (counted on the event already)."""

    event_type = "attentions.ticket.requested"


class TicketAssigned(TicketFacts):
    """The tickets service created the ticket; COMANDA puts it in the responsible person's inbox."""

    event_type = "tickets.ticket.assigned"


class TicketStatusChanged(EventModel):
    """COMANDA reported progress on a ticket that is not a closure or reopen (accepted, in progress)."""

    event_type = "tickets.ticket.status_changed"

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    status: TicketStatus
    changed_at: AwareDatetime
    attention_id: uuid.UUID | None = Field(default=None, description="The attention the ticket belongs to.")
    code: str | None = Field(default=None, description="The ticket code.", examples=["TCK-2026-000311"])
    changed_by: str | None = Field(default=None, description="COMANDA user who made the change.")

    def partition_key(self) -> str:
        return str(self.ticket_id)


class TicketClosed(EventModel):
    """A ticket was closed in COMANDA. The attentions service may now allow its event to close."""

    event_type = "tickets.ticket.closed"

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    attention_id: uuid.UUID
    resolution: str
    closed_at: AwareDatetime
    closed_by: str | None = None
    code: str | None = Field(default=None, description="The ticket code.", examples=["TCK-2026-000311"])

    def partition_key(self) -> str:
        return str(self.ticket_id)


class TicketReopened(EventModel):
    """A closed ticket was reopened in COMANDA; its event cannot close again until it is closed."""

    event_type = "tickets.ticket.reopened"

    ticket_id: uuid.UUID
    event_id: uuid.UUID
    attention_id: uuid.UUID
    reason: str | None = None
    reopened_at: AwareDatetime
    reopened_by: str | None = Field(default=None, description="COMANDA user who reopened it.")
    code: str | None = Field(default=None, description="The ticket code.", examples=["TCK-2026-000311"])

    def partition_key(self) -> str:
        return str(self.ticket_id)


WorkOrderStatus = Literal[
    "draft", "submitted", "approved", "rejected", "in_execution", "completed", "cancelled"
]
WorkType = Literal["inspection", "meter_change", "reconnection", "line_work", "other"]


class WorkOrderChanged(EventModel):
    """A technical work order was created or moved through its workflow. Carries the whole order."""

    event_type = "tickets.work_order.changed"

    work_order_id: uuid.UUID
    code: str
    ticket_id: uuid.UUID
    status: WorkOrderStatus
    transition: str = Field(description="What happened, e.g. `created`, `submitted`, `approved`.")
    work_type: WorkType
    nic: str | None = None
    address: str | None = None
    requested_date: date
    changed_by: str
    changed_at: AwareDatetime
    comment: str | None = None
    previous_status: WorkOrderStatus | None = Field(
        default=None, description="Status before this transition; null when the order was created."
    )
    area: str | None = Field(
        default=None, description="Responsible area of the ticket (the technical department)."
    )
    description: str | None = Field(default=None, description="What must be done in the field.")
    crew_notes: str | None = Field(default=None, description="Notes for the field crew.")
    completion_report: str | None = Field(
        default=None, description="The crew's report; set when the order is completed."
    )

    def partition_key(self) -> str:
        return str(self.work_order_id)

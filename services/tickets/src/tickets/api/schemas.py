"""Request and response bodies of the tickets API (they make the OpenAPI document), and row -> body."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tickets.domain.tickets import Status as TicketStatus
from tickets.domain.tickets import is_overdue
from tickets.domain.work_orders import Status as OrderStatus
from tickets.domain.work_orders import WorkType

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- tickets ---------------------------------------------------------------------------------------------


class PersonOut(BaseModel):
    user_id: str
    name: str
    email: str
    area: str


class SubjectOut(BaseModel):
    kind: Literal["client", "supply_point"]
    client_id: uuid.UUID | None
    nic: str | None
    display_name: str


class EventLink(BaseModel):
    """The parent event (evento) in the attentions service."""

    id: uuid.UUID
    code: str
    title: str
    internal_commitment_date: date


class AttentionLink(BaseModel):
    """The attention (atención) the ticket belongs to, in the attentions service."""

    id: uuid.UUID
    code: str


class TicketOut(BaseModel):
    id: uuid.UUID
    code: str
    responsibility: str
    due_date: date
    overdue: bool = Field(description="Still open after its due date (local calendar).")
    status: TicketStatus
    responsible: PersonOut
    cc: list[PersonOut]
    subject: SubjectOut
    event: EventLink
    attention: AttentionLink
    requested_by: str
    requested_at: datetime
    status_changed_at: datetime
    resolution: str | None = Field(description="Set while the ticket is closed.")
    closed_at: datetime | None
    closed_by: str | None
    reopen_reason: str | None


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    limit: int
    offset: int


class TransitionOut(BaseModel):
    sequence: int = Field(description="COMANDA's sequence; 0 for the creation.")
    from_status: TicketStatus | None
    to_status: TicketStatus
    comanda_event_id: str | None
    changed_at: datetime
    changed_by: str | None
    note: str | None = Field(description="Resolution of a closure, reason of a reopen.")
    recorded_at: datetime


class WorkOrderLink(BaseModel):
    id: uuid.UUID
    code: str
    status: OrderStatus
    work_type: WorkType


class TicketDetail(TicketOut):
    history: list[TransitionOut]
    work_orders: list[WorkOrderLink]


def ticket_out(row: asyncpg.Record, today: date) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "responsibility": row["responsibility"],
        "due_date": row["due_date"],
        "overdue": is_overdue(row["due_date"], row["status"], today),
        "status": row["status"],
        "responsible": {
            "user_id": row["responsible_id"],
            "name": row["responsible_name"],
            "email": row["responsible_email"],
            "area": row["responsible_area"],
        },
        "cc": row["cc"],
        "subject": {
            "kind": row["subject_kind"],
            "client_id": row["client_id"],
            "nic": row["nic"],
            "display_name": row["subject_name"],
        },
        "event": {
            "id": row["event_id"],
            "code": row["event_code"],
            "title": row["event_title"],
            "internal_commitment_date": row["event_internal_commitment_date"],
        },
        "attention": {"id": row["attention_id"], "code": row["attention_code"]},
        "requested_by": row["requested_by"],
        "requested_at": row["requested_at"],
        "status_changed_at": row["status_changed_at"],
        "resolution": row["resolution"],
        "closed_at": row["closed_at"],
        "closed_by": row["closed_by"],
        "reopen_reason": row["reopen_reason"],
    }


# -- work orders -----------------------------------------------------------------------------------------


class WorkOrderIn(Strict):
    ticket_id: uuid.UUID
    work_type: WorkType
    nic: ShortText | None = Field(default=None, description="Supply point (suministro) NIC.")
    address: Text | None = None
    description: Text
    requested_date: date
    crew_notes: Text | None = None


class WorkOrderPatch(Strict):
    """Fields of a draft to change; absent fields stay as they are."""

    work_type: WorkType | None = None
    nic: ShortText | None = None
    address: Text | None = None
    description: Text | None = None
    requested_date: date | None = None
    crew_notes: Text | None = None


class TransitionIn(Strict):
    comment: Text | None = Field(default=None, description="Required to approve, reject and cancel.")
    completion_report: Text | None = Field(default=None, description="Required to complete.")


class TicketBrief(BaseModel):
    id: uuid.UUID
    code: str
    responsibility: str
    status: TicketStatus
    responsible_name: str
    responsible_area: str


class UserRef(BaseModel):
    user_id: str
    name: str


class Decision(BaseModel):
    by: UserRef
    at: datetime
    comment: str | None


class WorkOrderOut(BaseModel):
    id: uuid.UUID
    code: str
    status: OrderStatus
    work_type: WorkType
    ticket: TicketBrief
    area: str
    nic: str | None
    address: str | None
    description: str
    requested_date: date
    crew_notes: str | None
    completion_report: str | None
    created_by: UserRef
    decision: Decision | None = Field(description="The technical manager's approval or rejection.")
    created_at: datetime
    updated_at: datetime


class WorkOrderPage(BaseModel):
    items: list[WorkOrderOut]
    total: int
    limit: int
    offset: int


class AuditEntry(BaseModel):
    transition: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: UserRef
    comment: str | None
    at: datetime


class WorkOrderDetail(WorkOrderOut):
    audit: list[AuditEntry]


def work_order_out(row: asyncpg.Record) -> dict[str, Any]:
    decision = None
    if row["decided_by"]:
        decision = {
            "by": {"user_id": row["decided_by"], "name": row["decided_by_name"]},
            "at": row["decided_at"],
            "comment": row["decision_comment"],
        }
    return {
        "id": row["id"],
        "code": row["code"],
        "status": row["status"],
        "work_type": row["work_type"],
        "ticket": {
            "id": row["ticket_id"],
            "code": row["ticket_code"],
            "responsibility": row["ticket_responsibility"],
            "status": row["ticket_status"],
            "responsible_name": row["ticket_responsible_name"],
            "responsible_area": row["ticket_responsible_area"],
        },
        "area": row["area"],
        "nic": row["nic"],
        "address": row["address"],
        "description": row["description"],
        "requested_date": row["requested_date"],
        "crew_notes": row["crew_notes"],
        "completion_report": row["completion_report"],
        "created_by": {"user_id": row["created_by"], "name": row["created_by_name"]},
        "decision": decision,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def audit_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "transition": row["transition"],
        "from_status": row["from_status"],
        "to_status": row["to_status"],
        "actor": {"user_id": row["actor_id"], "name": row["actor_name"]},
        "comment": row["comment"],
        "at": row["at"],
    }

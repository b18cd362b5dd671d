"""Response models of the reports API: they document every field in the OpenAPI for the web client."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class PeriodOut(BaseModel):
    from_: date = Field(alias="from", description="First day, inclusive.")
    to: date = Field(description="Last day, inclusive.")
    timezone: str = Field(examples=["America/El_Salvador"])


class KindFigures(BaseModel):
    opened: int = Field(description="Opened in the period.")
    closed: int = Field(description="Closed now, with the (latest) closure in the period.")
    open_at_end: int = Field(description="Open at the end of the as-of day.")
    overdue: int = Field(description="Open at the end of the as-of day with a due date before it.")
    avg_days_to_close: float | None = Field(
        description="Mean days from opening to closure, closed in period."
    )


class EventFigures(KindFigures):
    internal_kept: int = Field(description="Closed in the period on or before the internal commitment date.")
    client_kept: int = Field(description="Closed in the period on or before the client commitment date.")
    internal_kept_rate: float | None = Field(
        description="internal_kept / closed (0..1); null when none closed."
    )
    client_kept_rate: float | None = Field(description="client_kept / closed (0..1); null when none closed.")
    promise_kept_rate: float | None = Field(description="The promise to the client kept: client_kept_rate.")


class TicketFigures(KindFigures):
    reopened: int = Field(description="Tickets reopened at least once in the period.")
    reopens: int = Field(description="Reopenings in the period.")


class Summary(BaseModel):
    as_of: date = Field(description="Day overdue and open items are counted on: min(to, today).")
    attentions: KindFigures
    events: EventFigures
    tickets: KindFigures


class SubjectSummary(Summary):
    tickets: TicketFigures


class WeekPoint(BaseModel):
    week_start: date = Field(description="Monday of the local week.")
    opened: int
    closed: int
    attentions_opened: int
    attentions_closed: int
    events_opened: int
    events_closed: int
    tickets_opened: int
    tickets_closed: int


class SubjectOut(BaseModel):
    kind: Literal["client", "supply_point"]
    client_id: uuid.UUID | None
    nic: str | None
    name: str
    code: str | None
    client_kind: str = Field(description="prospect, stakeholder, internal or supply_point.")


class AttentionRow(BaseModel):
    attention_id: uuid.UUID
    code: str | None
    channel: str | None
    summary: str | None
    status: Literal["open", "closed"]
    opened_at: datetime | None = Field(description="When the interaction happened.")
    closed_at: datetime | None
    closed_by: str | None
    registered_by: str | None
    registered_by_name: str | None
    area: str | None = Field(description="Area of who registered it.")


class EventRow(BaseModel):
    event_id: uuid.UUID
    attention_id: uuid.UUID | None
    code: str | None
    title: str | None
    status: Literal["open", "closed"]
    opened_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    internal_commitment_date: date | None
    client_commitment_date: date | None
    created_by: str | None
    created_by_name: str | None
    area: str | None = Field(description="Area of who created the event (the area it counts for).")
    overdue: bool
    internal_kept: bool | None = Field(description="Closed on or before the internal date; null while open.")
    client_kept: bool | None = Field(description="Closed on or before the client date; null while open.")


class TicketRow(BaseModel):
    ticket_id: uuid.UUID
    event_id: uuid.UUID | None
    attention_id: uuid.UUID | None
    code: str | None
    responsibility: str | None
    status: str = Field(description="assigned, accepted, in_progress, reopened or closed.")
    opened_at: datetime | None = Field(description="When it was assigned.")
    closed_at: datetime | None = Field(description="Latest closure; null unless closed now.")
    due_date: date | None
    responsible_id: str | None
    responsible_name: str | None
    area: str | None = Field(description="Area of the responsible person.")
    reopens: int = Field(description="Times reopened (all time).")
    overdue: bool


class SubjectCharts(BaseModel):
    weekly: list[WeekPoint] = Field(description="Opened vs closed per week.")


class SubjectReport(BaseModel):
    subject: SubjectOut
    period: PeriodOut
    summary: SubjectSummary
    attentions: list[AttentionRow]
    events: list[EventRow]
    tickets: list[TicketRow]
    rows_truncated: bool = Field(
        description="More than 5,000 rows of a kind: the lists are cut, not figures."
    )
    charts: SubjectCharts


class AreaRow(BaseModel):
    area: str = Field(description="Area name; empty when unknown.")
    tickets: KindFigures = Field(description="Tickets whose responsible person is in the area (workload).")
    events: EventFigures = Field(description="Events created by people of the area, with compliance.")


class ResponsibleRow(KindFigures):
    user_id: str | None
    name: str | None
    area: str


class ChannelRow(KindFigures):
    channel: str | None


class ClientKindRow(BaseModel):
    client_kind: str = Field(description="prospect, stakeholder, internal, supply_point or unknown.")
    attentions_opened: int
    attentions_closed: int
    events_opened: int
    events_closed: int
    tickets_opened: int
    tickets_closed: int


class AreaCompliance(BaseModel):
    area: str
    events_closed: int
    internal_kept_rate: float | None
    client_kept_rate: float | None


class OverviewCharts(BaseModel):
    weekly: list[WeekPoint]
    compliance_by_area: list[AreaCompliance]


class OverviewReport(BaseModel):
    period: PeriodOut
    summary: Summary
    by_area: list[AreaRow]
    by_responsible: list[ResponsibleRow] = Field(description="Ticket workload per responsible person.")
    by_channel: list[ChannelRow] = Field(description="Attentions per channel.")
    by_client_kind: list[ClientKindRow]
    charts: OverviewCharts

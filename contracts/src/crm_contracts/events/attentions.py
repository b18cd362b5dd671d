"""Attention (atención) and event (evento) lifecycle, produced by the attentions service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from crm_contracts.envelope import EventModel
from crm_contracts.events.common import Subject

Channel = Literal["phone", "email", "letter", "visit", "web", "other"]


class AttentionOpened(EventModel):
    """An attention was registered under a client or a supply point."""

    event_type = "attentions.attention.opened"

    attention_id: uuid.UUID
    code: str = Field(examples=["ATN-2026-000123"])
    subject: Subject
    channel: Channel
    summary: str = Field(description="Short subject line of the interaction.")
    happened_at: AwareDatetime = Field(description="When the interaction or milestone happened.")
    registered_by: str = Field(description="User id of who registered it.")

    def partition_key(self) -> str:
        return str(self.attention_id)


class AttentionClosed(EventModel):
    """An attention was closed (every event under it was closed first)."""

    event_type = "attentions.attention.closed"

    attention_id: uuid.UUID
    closed_by: str
    closed_at: AwareDatetime
    note: str

    def partition_key(self) -> str:
        return str(self.attention_id)


class EventOpened(EventModel):
    """An event (macro-task) was created under an open attention."""

    event_type = "attentions.event.opened"

    event_id: uuid.UUID
    attention_id: uuid.UUID
    code: str = Field(examples=["EVT-2026-000077"])
    subject: Subject
    title: str
    client_commitment_date: date = Field(description="Date promised to the client.")
    internal_commitment_date: date = Field(description="Internal deadline; always before the client date.")
    created_by: str

    def partition_key(self) -> str:
        return str(self.event_id)


class EventClosed(EventModel):
    """An event was closed (every ticket under it was closed first)."""

    event_type = "attentions.event.closed"

    event_id: uuid.UUID
    attention_id: uuid.UUID
    closed_by: str
    closed_at: datetime

    def partition_key(self) -> str:
        return str(self.event_id)

"""The envelope every event travels in, and the base class of every event payload.

The envelope is the Kafka record value (JSON). The same event id and type are also copied into record
headers so tools can route and deduplicate without parsing the body.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventModel(BaseModel):
    """Base of every event payload. Subclasses set ``event_type`` and ``version``.

    ``extra="ignore"`` is what makes additive changes safe: an older consumer ignores fields it does not
    know yet (see docs/contracts.md, "Versioning").
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    def partition_key(self) -> str:
        """The aggregate id; Kafka keeps per-key order, so every event of one aggregate shares it."""
        raise NotImplementedError


DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """Metadata around one event. ``data`` is the event payload."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(description="Unique id of this event; consumers deduplicate on it.")
    type: str = Field(
        description="Event type, e.g. `tickets.ticket.closed`.", examples=["tickets.ticket.closed"]
    )
    schema_version: int = Field(ge=1, description="Version of the payload schema for this type.")
    occurred_at: AwareDatetime = Field(description="When the fact happened (UTC, ISO 8601).")
    producer: str = Field(description="Service (or outside system) that produced the event.")
    correlation_id: uuid.UUID | None = Field(
        default=None, description="Id shared by every event caused by one original request."
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="Id of the event or request that caused this one."
    )
    partition_key: str = Field(description="Kafka key: the aggregate id, which keeps per-aggregate order.")
    data: DataT = Field(description="The event payload.")


# Parametrized once: looking Envelope[Any] up again on every event costs more than building one.
_AnyEnvelope = Envelope[Any]


def new_envelope(
    data: EventModel,
    *,
    producer: str,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope[Any]:
    return _AnyEnvelope(
        event_id=event_id or uuid.uuid4(),
        type=data.event_type,
        schema_version=data.version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id,
        causation_id=causation_id,
        partition_key=data.partition_key(),
        data=data,
    )

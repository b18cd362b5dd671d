"""The events of a batch of COMANDA changes, written to the kit's outbox with one binary COPY.

These are the rows ``crmkit.outbox.Outbox.add_caused`` writes (the same table and columns, the same envelope
bytes, and the statement trigger that wakes the relay at commit fires for COPY as for INSERT), at a fraction
of the cost: the kit validates a pydantic ``Envelope`` for each event and then serializes it with the payload
typed ``Any``, about 30 µs an event; at ten thousand closures a second that alone was a third of a core.
Here the envelope is one ``pydantic_core.to_json`` of a dict whose payload is the (already validated) event
model, so the payload is serialized by its own schema exactly as the kit does it.
tests/tickets/test_outbox_rows.py holds the two byte for byte to each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from crm_contracts.envelope import EventModel
from crmkit.db import Connection
from crmkit.outbox import Caused, Outbox

OUTBOX_COLUMNS = [
    "event_id",
    "topic",
    "partition_key",
    "event_type",
    "schema_version",
    "producer",
    "correlation_id",
    "value",
]


def encode_envelope(
    event: EventModel,
    *,
    event_id: uuid.UUID,
    occurred_at: datetime,
    producer: str,
    causation_id: uuid.UUID | None,
    correlation_id: uuid.UUID | None,
    partition_key: str | None = None,
) -> bytes:
    """The JSON of ``new_envelope(event, ...)``: the envelope's fields, in its order, and the payload.
    (``partition_key``: the event's, when the caller has it already.)"""
    return pydantic_core.to_json(
        {
            "event_id": event_id,
            "type": event.event_type,
            "schema_version": event.version,
            "occurred_at": occurred_at,
            "producer": producer,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "partition_key": event.partition_key() if partition_key is None else partition_key,
            "data": event,
        }
    )


async def add_caused(conn: Connection, outbox: Outbox, items: Sequence[Caused]) -> list[uuid.UUID]:
    """Record events, each caused by its own incoming event, in the caller's transaction; their ids.

    Same metadata as ``Outbox.add_caused``: the producer is the service, the correlation id the one of the
    cause (or the cause itself). All events of one call share one ``occurred_at`` (one transaction).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("events must be written inside the transaction that changes the state")
    if not items:
        return []
    occurred_at = datetime.now(UTC)
    producer = outbox.producer
    topics: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    for item in items:
        event = item.event
        event_type = event.event_type
        topic = topics.get(event_type)
        if topic is None:
            topic = topics[event_type] = outbox.topic_of(event)
        event_id = uuid.uuid4()
        correlation_id = item.correlation_id or item.causation_id
        key = event.partition_key()
        value = encode_envelope(
            event,
            event_id=event_id,
            occurred_at=occurred_at,
            producer=producer,
            causation_id=item.causation_id,
            correlation_id=correlation_id,
            partition_key=key,
        )
        rows.append((event_id, topic, key, event_type, event.version, producer, correlation_id, value))
    await conn.copy_records_to_table("kit_outbox", records=rows, columns=OUTBOX_COLUMNS)
    return [row[0] for row in rows]

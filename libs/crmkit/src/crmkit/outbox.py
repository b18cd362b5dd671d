"""The writing half of the transactional outbox.

A service calls ``Outbox.add(conn, event)`` inside the transaction that changes its state. The event row
commits or rolls back with the change; the relay publishes it afterwards. A statement trigger NOTIFYs in
the same transaction, which wakes the relay at commit time, so delivery does not wait for a poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pydantic_core
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.registry import TOPICS, Topic

from crmkit import context
from crmkit.db import Connection

NOTIFY_CHANNEL = "kit_outbox"


def encode(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode()


def encode_new(
    event: EventModel,
    *,
    event_id: uuid.UUID,
    occurred_at: datetime,
    producer: str,
    causation_id: uuid.UUID | None,
    correlation_id: uuid.UUID | None,
    partition_key: str | None = None,
) -> bytes:
    """The bytes ``encode(new_envelope(event, ...))`` gives, without building the pydantic ``Envelope``.

    Validating an envelope and serializing it with its payload typed ``Any`` costs about 30 µs an event; a
    batch handler writing ten thousand events a second spent a third of a core on it. Here the payload is
    the (already validated) event model, serialized by its own schema as the envelope does it, and the
    envelope's fields in the envelope's order. ``partition_key``: the event's, when the caller has it.
    tests/kit/test_outbox_copy.py holds the two byte for byte to each other.
    """
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


def record_headers(
    event_id: uuid.UUID | str,
    event_type: str,
    schema_version: int,
    producer: str,
    correlation_id: uuid.UUID | str | None,
) -> list[tuple[str, bytes]]:
    """Headers mirror the envelope's ids so tools can route and deduplicate without parsing the value."""
    headers = [
        ("event_id", str(event_id).encode()),
        ("event_type", event_type.encode()),
        ("schema_version", str(schema_version).encode()),
        ("producer", producer.encode()),
        ("content-type", b"application/json"),
    ]
    if correlation_id:
        headers.append(("correlation_id", str(correlation_id).encode()))
    return headers


@dataclass(frozen=True)
class Caused:
    """An event to publish and the incoming event that caused it (see ``Outbox.add_caused``)."""

    event: EventModel
    causation_id: uuid.UUID | None
    correlation_id: uuid.UUID | None = None


class OutboxRow(NamedTuple):
    """One outbox row's values, for a statement that writes the row together with the change it records
    (see ``Outbox.row``). ``value`` is the envelope's JSON text."""

    event_id: uuid.UUID
    topic: str
    partition_key: str
    event_type: str
    schema_version: int
    producer: str
    correlation_id: uuid.UUID | None
    value: str


# The outbox's columns, in OutboxRow's order, for INSERT statements written outside this module.
OUTBOX_COLUMNS = "event_id, topic, partition_key, event_type, schema_version, producer, correlation_id, value"
_COPY_COLUMNS = [column.strip() for column in OUTBOX_COLUMNS.split(",")]


class Outbox:
    def __init__(self, producer: str, topic_prefix: str = "", registry: Sequence[Topic] = TOPICS) -> None:
        self.producer = producer
        self.topic_prefix = topic_prefix
        self._topic_of = {model.event_type: topic.name for topic in registry for model in topic.events}

    def topic_of(self, event: EventModel) -> str:
        try:
            return self.topic_prefix + self._topic_of[event.event_type]
        except KeyError:
            raise ValueError(f"no topic in the registry carries {event.event_type}") from None

    def envelope(
        self,
        event: EventModel,
        *,
        causation_id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope[Any]:
        return new_envelope(
            event,
            producer=self.producer,
            correlation_id=correlation_id or context.current_correlation_id(),
            causation_id=causation_id or context.causation_id.get(),
            occurred_at=occurred_at,
        )

    def row(self, event: EventModel, **meta: Any) -> OutboxRow:
        """The outbox row of ``event``, for a single statement that inserts it with the change it records
        (atomic without an explicit transaction: the hottest write saves three round trips). The statement
        may complete fields the database decides (a generated code) in ``value`` with ``jsonb_set``."""
        envelope = self.envelope(event, **meta)
        return OutboxRow(
            envelope.event_id,
            self.topic_of(event),
            envelope.partition_key,
            envelope.type,
            envelope.schema_version,
            envelope.producer,
            envelope.correlation_id,
            envelope.model_dump_json(),
        )

    async def add(self, conn: Connection, event: EventModel, **meta: Any) -> Envelope[Any]:
        """Record one event in the caller's transaction."""
        return (await self.add_many(conn, [event], **meta))[0]

    async def add_many(
        self, conn: Connection, events: Sequence[EventModel], **meta: Any
    ) -> list[Envelope[Any]]:
        """Record events that share one cause (``causation_id``/``correlation_id`` in ``meta``)."""
        return await self._insert(conn, [(event, self.envelope(event, **meta)) for event in events])

    async def add_caused(self, conn: Connection, items: Sequence[Caused]) -> list[Envelope[Any]]:
        """Record events each caused by its own incoming event: what a batch handler writes."""
        return await self._insert(
            conn,
            [
                (
                    item.event,
                    self.envelope(
                        item.event,
                        causation_id=item.causation_id,
                        correlation_id=item.correlation_id or item.causation_id,
                    ),
                )
                for item in items
            ],
        )

    async def copy_caused(self, conn: Connection, items: Sequence[Caused]) -> list[uuid.UUID]:
        """``add_caused`` for large batches: the same rows, written with one binary COPY and encoded by
        ``encode_new``; returns the new event ids. All events of one call share one ``occurred_at`` (one
        transaction). The statement trigger that wakes the relay fires for COPY as for INSERT."""
        if not conn.is_in_transaction():
            raise RuntimeError("events must be written inside the transaction that changes the state")
        if not items:
            return []
        occurred_at = datetime.now(UTC)
        producer = self.producer
        topics: dict[str, str] = {}
        rows: list[tuple[Any, ...]] = []
        for item in items:
            event = item.event
            event_type = event.event_type
            topic = topics.get(event_type)
            if topic is None:
                topic = topics[event_type] = self.topic_of(event)
            event_id = uuid.uuid4()
            correlation_id = item.correlation_id or item.causation_id
            key = event.partition_key()
            value = encode_new(
                event,
                event_id=event_id,
                occurred_at=occurred_at,
                producer=producer,
                causation_id=item.causation_id,
                correlation_id=correlation_id,
                partition_key=key,
            )
            rows.append((event_id, topic, key, event_type, event.version, producer, correlation_id, value))
        await conn.copy_records_to_table("kit_outbox", records=rows, columns=_COPY_COLUMNS)
        return [row[0] for row in rows]

    async def _insert(
        self, conn: Connection, pairs: Sequence[tuple[EventModel, Envelope[Any]]]
    ) -> list[Envelope[Any]]:
        if not conn.is_in_transaction():
            raise RuntimeError("Outbox.add must run inside the transaction that changes the state")
        if not pairs:
            return []
        envelopes = [env for _, env in pairs]
        # One statement for any number of events.
        await conn.execute(
            """INSERT INTO kit_outbox (event_id, topic, partition_key, event_type, schema_version, producer,
                                      correlation_id, value)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[],
                                    $7::uuid[], $8::bytea[])""",
            [env.event_id for env in envelopes],
            [self.topic_of(event) for event, _ in pairs],
            [env.partition_key for env in envelopes],
            [env.type for env in envelopes],
            [env.schema_version for env in envelopes],
            [env.producer for env in envelopes],
            [env.correlation_id for env in envelopes],
            [encode(env) for env in envelopes],
        )
        # The relay is woken at commit by the kit_outbox_notify trigger.
        return envelopes

"""``Outbox.copy_caused`` (binary COPY, ``encode_new``) must write the rows ``Outbox.add_caused`` writes,
byte for byte, and wake the relay the same way. The tickets service's closure path uses it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from crm_contracts.envelope import EventModel, new_envelope
from crm_contracts.events.tickets import TicketClosed, TicketReopened, TicketStatusChanged
from crmkit.db import migrate
from crmkit.outbox import NOTIFY_CHANNEL, Caused, Outbox, encode, encode_new

T0 = datetime(2026, 3, 3, 9, 0, 0, 123456, tzinfo=UTC)
TICKET = uuid.UUID("0b7f3a52-2f1e-4c8e-9a41-6f2d9c1e5b10")


def samples() -> list[EventModel]:
    common: dict[str, Any] = {"ticket_id": TICKET, "event_id": uuid.uuid4(), "attention_id": uuid.uuid4()}
    return [
        TicketClosed(
            **common,
            resolution='Medidor "reemplazado"\n— sellado, ñandú \\ 100 %',
            closed_at=T0,
            closed_by="u-jperez",
            code="TCK-2026-000311",
        ),
        TicketClosed(**common, resolution="x", closed_at=T0, closed_by=None, code="TCK-2026-000311"),
        TicketReopened(**common, reason=None, reopened_at=T0, reopened_by="u-jperez", code="TCK-2026-000311"),
        TicketStatusChanged(
            **common, status="in_progress", changed_at=T0, changed_by="u-jperez", code="TCK-2026-000311"
        ),
    ]


@pytest.mark.parametrize("correlation", [uuid.uuid4(), None], ids=["correlated", "uncorrelated"])
def test_the_envelope_bytes_are_the_kits(correlation: uuid.UUID | None) -> None:
    for event in samples():
        event_id, cause = uuid.uuid4(), uuid.uuid4()
        kit = new_envelope(
            event,
            producer="tickets",
            correlation_id=correlation,
            causation_id=cause,
            occurred_at=T0,
            event_id=event_id,
        )
        ours = encode_new(
            event,
            event_id=event_id,
            occurred_at=T0,
            producer="tickets",
            causation_id=cause,
            correlation_id=correlation,
        )
        assert ours == encode(kit)


async def test_the_rows_are_the_kits_rows_and_wake_the_relay_at_commit(new_database: Any) -> None:
    dsn = await new_database("tickets_outbox")
    await migrate(dsn, [])
    outbox = Outbox("tickets", "p.")
    causes = [uuid.uuid4() for _ in samples()]
    items = [
        Caused(event, cause, uuid.uuid4() if i % 2 else None)
        for i, (event, cause) in enumerate(zip(samples(), causes, strict=True))
    ]
    listener = await asyncpg.connect(dsn)
    notified: list[str] = []
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: notified.append(args[2]))
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(RuntimeError):
            await outbox.copy_caused(conn, items)  # outside a transaction
        async with conn.transaction():
            kit_envelopes = await outbox.add_caused(conn, items)
        async with conn.transaction():
            ids = await outbox.copy_caused(conn, items)
            await asyncio.sleep(0.2)
            assert len(notified) == 1  # the kit's commit; ours is not committed yet
        for _ in range(100):
            if len(notified) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(notified) == 2
        rows = await conn.fetch(
            """SELECT event_id, topic, partition_key, event_type, schema_version, producer, correlation_id,
                      value, published_at FROM kit_outbox ORDER BY id"""
        )
    finally:
        await conn.close()
        await listener.close()
    n = len(items)
    kit_rows, our_rows = rows[:n], rows[n:]
    assert [r["event_id"] for r in kit_rows] == [e.event_id for e in kit_envelopes]
    assert [r["event_id"] for r in our_rows] == ids
    for kit_row, our_row, kit_env in zip(kit_rows, our_rows, kit_envelopes, strict=True):
        same = ("topic", "partition_key", "event_type", "schema_version", "producer", "correlation_id")
        assert [our_row[c] for c in same] == [kit_row[c] for c in same]
        assert our_row["published_at"] is None
        # The same bytes once the two fields that differ by nature (a new id, the time) are the same.
        occurred_at = datetime.fromisoformat(json.loads(our_row["value"])["occurred_at"])
        expected = kit_env.model_copy(update={"event_id": our_row["event_id"], "occurred_at": occurred_at})
        assert our_row["value"] == encode(expected)

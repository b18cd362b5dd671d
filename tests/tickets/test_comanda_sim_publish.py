"""The simulator's inbox changes only with a change that was published (found by the stack fault test: a
close that the broker never took was shown as closed, and never sent again)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from tickets.comanda_sim import ComandaSimulator, InboxItem


def item() -> InboxItem:
    return InboxItem(
        ticket_id=uuid.uuid4(),
        code="TCK-2026-000001",
        responsibility="Revisar medidor",
        due_date=date(2026, 12, 10),
        responsible_id="u-tecnico",
        responsible_name="Luis",
        cc_ids=(),
        event_code="EVT-2026-000001",
        attention_code="ATN-2026-000001",
        subject="Cliente",
        assignment_event_id=uuid.uuid4(),
        correlation_id=None,
    )


async def test_a_close_the_broker_refused_leaves_the_ticket_open_to_close_again() -> None:
    sim = ComandaSimulator("127.0.0.1:1")
    ticket = item()
    sim.store.put(ticket)
    sent: list[Any] = []

    async def broker_away(envelope: Any) -> None:
        raise ConnectionError("broker away")

    sim.send = broker_away
    with pytest.raises(ConnectionError):
        await sim.close(ticket.ticket_id, "Medidor cambiado")
    assert sim.ticket(ticket.ticket_id) == ticket  # still assigned, sequence not spent

    async def broker_back(envelope: Any) -> None:
        sent.append(envelope)

    sim.send = broker_back
    await sim.close(ticket.ticket_id, "Medidor cambiado")
    assert sim.ticket(ticket.ticket_id).status == "closed"
    assert [e.data.sequence for e in sent] == [1]

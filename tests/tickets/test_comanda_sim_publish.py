"""The simulator's inbox changes only with a change that was published (found by the stack fault test: a
close that the broker never took was shown as closed, and never sent again)."""

from __future__ import annotations

import asyncio
import sys
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


# Run in a fresh interpreter: the test process imports the kit anyway, which would hide a simulator that
# does not turn auto-creation off by itself.
LOOK_UP_TOPICS = """
import asyncio, contextlib, sys, uuid
from tickets.comanda_sim import ComandaSimulator

async def main():
    sim = ComandaSimulator(sys.argv[1], topic_prefix=sys.argv[2], group="g" + uuid.uuid4().hex[:6])
    try:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sim.start(), 15)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sim.send(sim.change(uuid.uuid4(), "accepted", sequence=1)), 5)
    finally:
        await sim.stop()

asyncio.run(main())
"""


@pytest.mark.integration
async def test_the_simulator_never_makes_the_broker_create_a_topic(infra: Any, topic_prefix: str) -> None:
    """After a memory broker restarts, the CRM recreates its topics from the registry (partitions,
    configs). A simulator that asked the broker to auto-create them first would get them made with the
    broker's default partition count, under the services' feet (found by the stack fault test)."""
    from aiokafka.admin import AIOKafkaAdminClient

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOOK_UP_TOPICS, infra.kafka, topic_prefix,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        assert not [t for t in await admin.list_topics() if t.startswith(topic_prefix)]
    finally:
        await admin.close()

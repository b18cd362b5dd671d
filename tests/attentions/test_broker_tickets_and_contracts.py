"""Through the real broker: TicketRequested goes out, TicketClosed / TicketReopened come back from the tickets
service and decide when an event may close; every event published validates against contracts/."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from atn_support import (
    create_attention,
    create_client,
    create_event,
    create_ticket,
    pdf_bytes,
    problem,
    rules,
)
from crm_contracts.envelope import Envelope, new_envelope
from crm_contracts.events.tickets import TicketClosed, TicketReopened, TicketRequested
from crm_contracts.registry import TOPICS, model_for, topic_for
from eventually import eventually
from kit.helpers import read_topic

pytestmark = pytest.mark.integration
T0 = datetime(2026, 4, 2, 15, tzinfo=UTC)


async def publish_as_tickets_service(service, *events) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=service.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            envelope = new_envelope(event, producer="tickets")
            await producer.send_and_wait(
                service.settings.topic(topic_for(event).name),
                envelope.model_dump_json().encode(),
                key=envelope.partition_key.encode(),
                headers=[("event_id", str(envelope.event_id).encode())],
            )
    finally:
        await producer.stop()


def closed(ticket: dict, at: datetime) -> TicketClosed:
    return TicketClosed(
        ticket_id=ticket["ticket_id"],
        event_id=ticket["event_id"],
        attention_id=ticket["attention_id"],
        resolution="Hecho",
        closed_at=at,
        closed_by="u-carla",
    )


def reopened(ticket: dict, at: datetime) -> TicketReopened:
    return TicketReopened(
        ticket_id=ticket["ticket_id"],
        event_id=ticket["event_id"],
        attention_id=ticket["attention_id"],
        reason="Faltó la firma",
        reopened_at=at,
    )


async def ticket_statuses(service, event_id: str) -> list[str]:
    rows = await service.fetch(
        "SELECT status FROM event_tickets WHERE event_id = $1 ORDER BY code", uuid.UUID(event_id)
    )
    return [r["status"] for r in rows]


async def test_ticket_closures_and_reopens_from_the_tickets_service_roll_up_to_the_event(service_with):
    service = await service_with(parts={"worker", "relay"})
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    event = await create_event(ana, attention["attention_id"])
    eid = event["event_id"]
    tickets = [{**await create_ticket(ana, eid), "attention_id": attention["attention_id"]} for _ in range(2)]

    # the requests reach the topic the tickets service consumes, as contract-valid envelopes
    records = await read_topic(service.settings, "attentions.ticket-requests.v1", expect=2)
    requested = [Envelope[TicketRequested].model_validate_json(r.value) for r in records]
    assert {str(e.data.ticket_id) for e in requested} == {t["ticket_id"] for t in tickets}
    assert all(
        e.producer == "attentions" and r.key == str(e.data.ticket_id).encode()
        for e, r in zip(requested, records, strict=True)
    )

    # the first closes; then the second closes and is reopened before the event is closed
    await publish_as_tickets_service(
        service,
        closed(tickets[0], T0),
        closed(tickets[1], T0),
        reopened(tickets[1], T0 + timedelta(hours=1)),
        closed(tickets[0], T0),  # the same change again (a redelivery with a new id): no effect
    )
    await eventually(
        lambda: ticket_statuses(service, eid),
        lambda s: s == ["closed", "open"],
        what="first closed, second reopened",
    )
    await eventually(
        lambda: service.fetchval("SELECT count(*) FROM kit_processed_events"),
        lambda n: n == 4,
        what="all four applied",
    )
    body = problem(await ana.post(f"/events/{eid}/close", json={}), 409)
    assert rules(body) == {("event_id", "tickets_still_open")} and body["errors"][0]["open_tickets"] == 1

    # an older closure arriving late is ignored; the newer closure lets the event close
    await publish_as_tickets_service(service, closed(tickets[1], T0 + timedelta(minutes=30)))
    await eventually(
        lambda: service.fetchval("SELECT count(*) FROM kit_processed_events"),
        lambda n: n == 5,
        what="the late closure handled",
    )
    assert await ticket_statuses(service, eid) == ["closed", "open"]
    await publish_as_tickets_service(service, closed(tickets[1], T0 + timedelta(hours=2)))
    await eventually(
        lambda: ticket_statuses(service, eid), lambda s: s == ["closed", "closed"], what="both closed"
    )
    response = await ana.post(f"/events/{eid}/close", json={"note": "Listo"})
    assert response.status_code == 200, response.text

    # a reopen after the event closed is recorded, never applied
    await publish_as_tickets_service(service, reopened(tickets[0], T0 + timedelta(days=1)))
    await eventually(
        lambda: service.fetchval(
            "SELECT late_reopened_at FROM event_tickets WHERE ticket_id = $1",
            uuid.UUID(tickets[0]["ticket_id"]),
        ),
        lambda v: v is not None,
        what="late reopen recorded",
    )
    assert await ticket_statuses(service, eid) == ["closed", "closed"]


async def test_every_published_event_validates_against_its_contract_and_topic(service_with):
    service = await service_with(parts={"relay"})
    ana = service.as_("u-ana")
    admin = service.admin
    client = await create_client(ana, access_user_ids=["u-beto"])
    cid = client["client_id"]
    await ana.patch(f"/clients/{cid}", json={"sector": "Energía"})
    await ana.delete(f"/clients/{cid}/access/u-beto")
    attention = await create_attention(ana, cid)
    await ana.post(
        f"/attentions/{attention['attention_id']}/attachments",
        files={"file": ("c.pdf", pdf_bytes(), "application/pdf")},
    )
    event = await create_event(ana, attention["attention_id"])
    await create_ticket(ana, event["event_id"], cc_ids=["u-beto"])
    other = await create_event(ana, attention["attention_id"], title="Sin tickets")
    assert (await ana.post(f"/events/{other['event_id']}/close", json={})).status_code == 200
    milestone = await create_attention(ana, cid, subject="Hito")
    assert (
        await ana.post(f"/attentions/{milestone['attention_id']}/close", json={"note": "ok"})
    ).status_code == 200
    await admin.patch("/staff/u-ana", json={"area": "Comercial"})

    rows = await service.fetch(
        "SELECT topic, event_type, schema_version, partition_key, value FROM kit_outbox"
    )
    seen_types = set()
    for row in rows:
        model = model_for(row["event_type"], row["schema_version"])
        assert model is not None, row["event_type"]
        envelope = Envelope[model].model_validate_json(row["value"])
        assert envelope.producer == "attentions" and envelope.type == row["event_type"]
        assert row["topic"] == service.settings.topic(topic_for(model).name)
        assert row["partition_key"] == envelope.data.partition_key()
        assert json.loads(row["value"])["data"] == json.loads(envelope.data.model_dump_json())
        seen_types.add(row["event_type"])
    produced = {m.event_type for t in TOPICS if t.producer == "attentions" for m in t.events}
    assert seen_types == produced, produced - seen_types

    # and what the relay put on the topics is the same, byte for byte
    for topic in {r["topic"] for r in rows}:
        logical = topic.removeprefix(service.settings.topic_prefix)
        expected = sorted(r["value"] for r in rows if r["topic"] == topic)
        records = await read_topic(service.settings, logical, expect=len(expected))
        assert sorted(r.value for r in records) == expected, logical

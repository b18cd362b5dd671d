"""Tickets and COMANDA on the real broker and database: assignment out, status changes in, rollup events out,
and everything a real network and another team's system can do to the messages in between."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from crm_contracts.envelope import new_envelope
from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked
from crm_contracts.events.tickets import TicketRequested
from crm_contracts.registry import deadletter_topic
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from kit.helpers import read_topic
from tickets.comanda_sim import ComandaSimulator

pytestmark = pytest.mark.integration
TICKETS_TOPIC = "tickets.tickets.v1"
STATUS_TOPIC = "comanda.ticket-status.v1"


async def ticket_events(service: ServiceRuntime, ticket_id: uuid.UUID, expect: int) -> list[dict[str, Any]]:
    """The envelopes published about one ticket on tickets.tickets.v1, in partition order."""
    records = await read_topic(service.settings, TICKETS_TOPIC, expect=expect, timeout=20)
    envelopes = [json.loads(r.value) for r in records if r.key == str(ticket_id).encode()]
    return sorted(envelopes, key=lambda e: e["occurred_at"])


async def published(db: Any, ticket_id: uuid.UUID) -> list[str]:
    """Event types in the outbox for one ticket, in outbox (= publication) order."""
    rows = await db.fetch(
        "SELECT event_type FROM kit_outbox WHERE partition_key = $1 ORDER BY id", str(ticket_id)
    )
    return [r["event_type"] for r in rows]


async def ticket_status(db: Any, ticket_id: uuid.UUID) -> str | None:
    status: str | None = await db.val("SELECT status FROM tickets WHERE id = $1", ticket_id)
    return status


async def test_a_requested_ticket_is_materialized_and_assigned_to_the_persons_comanda_inbox(
    service, attentions, comanda: ComandaSimulator, db, make_request, make_person
):
    request: TicketRequested = make_request(
        responsible=make_person("u-jperez", area="Gerencia Técnica"), cc=[make_person("u-boss")]
    )
    [sent] = await attentions.publish(request)

    item = await comanda.wait_for(request.ticket_id)
    assert item.code == request.code
    assert [i.code for _, i in comanda.inbox("u-jperez")] == [request.code]
    assert [role for role, _ in comanda.inbox("u-boss")] == ["cc"]
    assert comanda.inbox("u-someone-else") == []

    row = (await db.fetch("SELECT * FROM tickets WHERE id = $1", request.ticket_id))[0]
    assert (row["code"], row["status"], row["responsible_area"]) == (
        request.code,
        "assigned",
        "Gerencia Técnica",
    )
    assert row["cc_ids"] == ["u-boss"]
    assert row["event_id"] == request.event_id and row["attention_id"] == request.attention_id

    [assigned] = await ticket_events(service, request.ticket_id, expect=1)
    assert assigned["type"] == "tickets.ticket.assigned" and assigned["producer"] == "tickets"
    assert assigned["causation_id"] == str(sent.event_id)
    assert assigned["data"] == json.loads(request.model_dump_json())


async def test_a_closure_in_comanda_publishes_ticket_closed_with_its_event_and_attention(
    service, attentions, comanda: ComandaSimulator, db, make_request
):
    request: TicketRequested = make_request()
    await attentions.publish(request)
    await comanda.wait_for(request.ticket_id)

    await comanda.accept(request.ticket_id)
    await comanda.start_work(request.ticket_id)
    await comanda.close(request.ticket_id, "Medidor reemplazado.")
    await eventually(lambda: ticket_status(db, request.ticket_id), lambda s: s == "closed", what="closed")

    events = await ticket_events(service, request.ticket_id, expect=4)
    assert [e["type"] for e in events] == [
        "tickets.ticket.assigned",
        "tickets.ticket.status_changed",
        "tickets.ticket.status_changed",
        "tickets.ticket.closed",
    ]
    assert [e["data"]["status"] for e in events[1:3]] == ["accepted", "in_progress"]
    closed = events[3]["data"]
    assert closed["event_id"] == str(request.event_id)
    assert closed["attention_id"] == str(request.attention_id)
    assert (closed["resolution"], closed["closed_by"], closed["code"]) == (
        "Medidor reemplazado.",
        request.responsible.user_id,
        request.code,
    )
    # One correlation id for the whole story: request -> assignment -> COMANDA -> closure.
    assert len({e["correlation_id"] for e in events}) == 1

    await comanda.reopen(request.ticket_id, "El cliente reporta la falla de nuevo")
    await eventually(lambda: ticket_status(db, request.ticket_id), lambda s: s == "reopened", what="reopened")
    assert (await published(db, request.ticket_id))[-1] == "tickets.ticket.reopened"
    history = await db.fetch(
        """SELECT sequence, from_status, to_status FROM ticket_transitions
           WHERE ticket_id = $1 ORDER BY sequence""",
        request.ticket_id,
    )
    assert [tuple(h) for h in history] == [
        (0, None, "assigned"),
        (1, "assigned", "accepted"),
        (2, "accepted", "in_progress"),
        (3, "in_progress", "closed"),
        (4, "closed", "reopened"),
    ]


async def test_a_duplicate_from_comanda_has_no_second_effect(
    service, attentions, comanda: ComandaSimulator, db, make_request
):
    request: TicketRequested = make_request()
    await attentions.publish(request)
    await comanda.wait_for(request.ticket_id)

    closure = comanda.change(request.ticket_id, "closed", resolution="Hecho")
    await comanda.send(closure)
    await comanda.send(closure)  # a retry after a timeout: same envelope, same event id
    # COMANDA re-sending the same change in a new envelope: same comanda_event_id, new event id.
    again = new_envelope(closure.data, producer="comanda")
    await comanda.send(again)
    marker = await comanda.reopen(request.ticket_id, "otra vez")
    await eventually(
        lambda: ticket_status(db, request.ticket_id), lambda s: s == "reopened", what="the marker"
    )

    assert await published(db, request.ticket_id) == [
        "tickets.ticket.assigned",
        "tickets.ticket.closed",
        "tickets.ticket.reopened",
    ]
    dropped = await db.fetch(
        "SELECT envelope_id, reason FROM comanda_dropped WHERE ticket_id = $1", request.ticket_id
    )
    assert [(r["envelope_id"], r["reason"]) for r in dropped] == [(again.event_id, "duplicate")]
    assert marker.data.sequence == 2


async def test_an_older_status_never_overwrites_a_newer_one(
    service, attentions, comanda: ComandaSimulator, db, make_request
):
    request: TicketRequested = make_request()
    await attentions.publish(request)
    await comanda.wait_for(request.ticket_id)

    accepted = comanda.change(request.ticket_id, "accepted", sequence=1)
    started = comanda.change(request.ticket_id, "in_progress", sequence=2)
    closed = comanda.change(request.ticket_id, "closed", sequence=3, resolution="Listo")
    for envelope in (closed, started, accepted):  # the network delivered them newest first
        await comanda.send(envelope)
    await eventually(
        lambda: db.val("SELECT count(*) FROM comanda_dropped WHERE ticket_id = $1", request.ticket_id),
        lambda n: n == 2,
        what="two stale changes dropped",
    )

    assert await ticket_status(db, request.ticket_id) == "closed"
    assert await db.val("SELECT last_sequence FROM tickets WHERE id = $1", request.ticket_id) == 3
    assert await published(db, request.ticket_id) == ["tickets.ticket.assigned", "tickets.ticket.closed"]
    reasons = await db.fetch(
        "SELECT sequence, reason FROM comanda_dropped WHERE ticket_id = $1", request.ticket_id
    )
    assert sorted(tuple(r) for r in reasons) == [(1, "stale"), (2, "stale")]


async def test_changes_for_a_ticket_not_yet_known_are_kept_and_applied_when_it_arrives(
    service, attentions, comanda: ComandaSimulator, db, make_request
):
    request: TicketRequested = make_request()
    # COMANDA's changes reach the CRM before the request (they travel on different topics).
    await comanda.publish(request.ticket_id, "closed", sequence=2, resolution="Resuelto en sitio")
    await comanda.publish(request.ticket_id, "accepted", sequence=1)
    await eventually(
        lambda: db.val("SELECT count(*) FROM comanda_pending WHERE ticket_id = $1", request.ticket_id),
        lambda n: n == 2,
        what="two pending changes",
    )
    assert await ticket_status(db, request.ticket_id) is None

    await attentions.publish(request)
    await eventually(lambda: ticket_status(db, request.ticket_id), lambda s: s == "closed", what="applied")

    assert await db.val("SELECT count(*) FROM comanda_pending") == 0
    assert await published(db, request.ticket_id) == [
        "tickets.ticket.assigned",
        "tickets.ticket.status_changed",
        "tickets.ticket.closed",
    ]
    closed = await db.val("SELECT resolution FROM tickets WHERE id = $1", request.ticket_id)
    assert closed == "Resuelto en sitio"


async def test_malformed_and_schema_invalid_messages_are_dead_lettered_and_the_partition_moves_on(
    service, attentions, comanda: ComandaSimulator, db, make_request
):
    request: TicketRequested = make_request()
    await attentions.publish(request)
    await comanda.wait_for(request.ticket_id)
    key = str(request.ticket_id).encode()

    bad_schema = json.loads(comanda.change(request.ticket_id, "accepted", sequence=1).model_dump_json())
    bad_schema["data"]["sequence"] = 0  # sequences start at 1
    no_resolution = comanda.change(request.ticket_id, "closed", sequence=2)  # the contract requires one
    for value in (b"{not json", json.dumps(bad_schema).encode(), no_resolution.model_dump_json().encode()):
        await attentions.raw(STATUS_TOPIC, value, key)  # all on one key: one partition, in this order
    await comanda.publish(request.ticket_id, "closed", sequence=3, resolution="Hecho")

    await eventually(
        lambda: ticket_status(db, request.ticket_id), lambda s: s == "closed", what="the good one"
    )
    letters = await read_topic(service.settings, deadletter_topic("tickets"), expect=3)
    errors = sorted(dict(r.headers)["dlq.error"].decode() for r in letters)
    assert len(errors) == 3
    assert errors[0].startswith("not JSON")
    assert errors[1].startswith("rejected: resolution: resolution_required")
    assert errors[2].startswith("schema violation for comanda.ticket.status_changed: data.sequence")
    assert all(r.key == key for r in letters)


async def test_access_changes_for_clients_are_projected_latest_first(
    service, attentions, db, make_request: Callable[..., TicketRequested]
):
    client_id = uuid.uuid4()
    await attentions.publish(
        ClientAccessGranted(client_id=client_id, user_id="u-a", granted_by="u-admin"),
        ClientAccessGranted(client_id=client_id, user_id="u-b", granted_by="u-admin"),
        ClientAccessRevoked(client_id=client_id, user_id="u-a", revoked_by="u-admin"),
    )
    rows = await eventually(
        lambda: db.fetch("SELECT user_id, granted FROM client_access ORDER BY user_id"),
        lambda r: len(r) == 2 and not r[0]["granted"],
        what="access projection",
    )
    assert [tuple(r) for r in rows] == [("u-a", False), ("u-b", True)]

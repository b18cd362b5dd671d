"""Events under open attentions, tickets accepted on open events, and closure rules between them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from atn_support import (
    create_attention,
    create_client,
    create_event,
    create_ticket,
    problem,
    report_ticket,
    rules,
)
from crm_contracts.envelope import Envelope
from crm_contracts.events.tickets import TicketRequested

pytestmark = pytest.mark.integration
T0 = datetime(2026, 4, 1, 12, tzinfo=UTC)


async def open_event(service, user: str = "u-ana") -> tuple[dict, dict, dict]:
    http = service.as_(user)
    client = await create_client(http)
    attention = await create_attention(http, client["client_id"])
    event = await create_event(http, attention["attention_id"])
    return client, attention, event


async def test_event_requires_internal_date_before_client_date_naming_both(service):
    ana = service.as_("u-ana")
    _, attention, _ = await open_event(service)
    before = await service.counts()
    for internal, client_date in (("2026-04-20", "2026-04-20"), ("2026-04-21", "2026-04-20")):
        response = await ana.post(
            f"/attentions/{attention['attention_id']}/events",
            json={
                "title": "x",
                "internal_commitment_date": internal,
                "client_commitment_date": client_date,
            },
        )
        body = problem(response, 422)
        assert rules(body) == {
            ("internal_commitment_date", "internal_before_client_commitment"),
            ("client_commitment_date", "internal_before_client_commitment"),
        }
        assert "internal_commitment_date" in body["detail"] and "client_commitment_date" in body["detail"]
    assert await service.counts() == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"internal_commitment_date": "2026-04-01", "client_commitment_date": "2026-04-02"},
            {("title", "missing")},
        ),
        ({"title": "x", "client_commitment_date": "2026-04-02"}, {("internal_commitment_date", "missing")}),
        (
            {"title": "x", "internal_commitment_date": "2026-02-30", "client_commitment_date": "2026-04-02"},
            {("internal_commitment_date", "date_from_datetime_parsing")},
        ),
    ],
    ids=["no-title", "no-internal-date", "impossible-date"],
)
async def test_bad_events_are_refused_naming_field_and_rule(service, body, expected):
    _, attention, _ = await open_event(service)
    before = await service.counts()
    response = await service.as_("u-ana").post(f"/attentions/{attention['attention_id']}/events", json=body)
    assert rules(problem(response, 422)) == expected
    assert await service.counts() == before


async def test_events_are_created_only_under_open_attentions(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    assert (
        await ana.post(f"/attentions/{attention['attention_id']}/close", json={"note": "hito"})
    ).status_code == 200
    before = await service.counts()
    response = await ana.post(
        f"/attentions/{attention['attention_id']}/events",
        json={
            "title": "x",
            "internal_commitment_date": "2026-04-01",
            "client_commitment_date": "2026-04-02",
        },
    )
    assert rules(problem(response, 409)) == {("attention_id", "attention_closed")}
    assert await service.counts() == before
    assert problem(
        await ana.post(
            f"/attentions/{uuid.uuid4()}/events",
            json={
                "title": "x",
                "internal_commitment_date": "2026-04-01",
                "client_commitment_date": "2026-04-02",
            },
        ),
        404,
    )


async def test_event_shows_its_parent_attention_and_lists_filter(service):
    ana = service.as_("u-ana")
    client, attention, event = await open_event(service)
    assert event["code"].startswith("EVT-")
    detail = (await ana.get(f"/events/{event['event_id']}")).json()
    assert detail["attention"]["attention_id"] == attention["attention_id"]
    assert detail["attention"]["code"] == attention["code"]
    assert detail["attention"]["subject_name"] == client["name"]
    listed = (await ana.get("/events", params={"status": "open"})).json()
    assert [e["event_id"] for e in listed["items"]] == [event["event_id"]]
    assert listed["items"][0]["attention"]["code"] == attention["code"]
    assert (await ana.get("/events", params={"status": "closed"})).json()["total"] == 0
    by_attention = (await ana.get(f"/attentions/{attention['attention_id']}/events")).json()
    assert [e["code"] for e in by_attention] == [event["code"]]


async def test_ticket_request_is_recorded_and_emitted_with_people_and_context(service):
    ana = service.as_("u-ana")
    client, attention, event = await open_event(service)
    ticket = await create_ticket(
        ana, event["event_id"], cc_ids=["u-beto", "u-carla", "u-beto"], due_date="2026-04-10"
    )
    assert ticket["status"] == "open" and ticket["code"].startswith("TCK-")
    assert ticket["cc_ids"] == ["u-beto"]  # the responsible person is not copied to themself, nor twice
    [row] = await service.fetch(
        "SELECT value FROM kit_outbox WHERE event_type = 'attentions.ticket.requested'"
    )
    requested = Envelope[TicketRequested].model_validate_json(row["value"]).data
    assert requested.ticket_id == uuid.UUID(ticket["ticket_id"]) and requested.code == ticket["code"]
    assert (requested.responsible.user_id, requested.responsible.area) == ("u-carla", "Gerencia Técnica")
    assert [p.user_id for p in requested.cc] == ["u-beto"]
    assert (requested.event_code, requested.attention_code) == (event["code"], attention["code"])
    assert requested.subject.display_name == client["name"] and requested.requested_by == "u-ana"
    assert str(requested.event_internal_commitment_date) == "2026-04-10"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"due_date": "2026-04-11"}, {("due_date", "due_not_after_internal_commitment")}),
        ({"responsible_id": "u-ghost"}, {("responsible_id", "active_staff_member")}),
        ({"responsible_id": "u-old"}, {("responsible_id", "active_staff_member")}),
        ({"cc_ids": ["u-beto", "u-ghost"]}, {("cc_ids[1]", "active_staff_member")}),
        ({"responsibility": None}, {("responsibility", "string_type")}),
        ({"due_date": None}, {("due_date", "date_type")}),
    ],
    ids=[
        "due-after-internal",
        "unknown-responsible",
        "inactive-responsible",
        "unknown-cc",
        "no-responsibility",
        "no-due-date",
    ],
)
async def test_bad_tickets_are_refused_naming_field_and_rule(service, body, expected):
    _, _, event = await open_event(service)
    before = await service.counts()
    full = {"responsibility": "x", "due_date": "2026-04-05", "responsible_id": "u-carla", **body}
    response = await service.as_("u-ana").post(f"/events/{event['event_id']}/tickets", json=full)
    assert rules(problem(response, 422)) == expected
    assert await service.counts() == before


async def test_event_closes_only_when_every_ticket_is_closed(service):
    ana = service.as_("u-ana")
    _, _, event = await open_event(service)
    first = await create_ticket(ana, event["event_id"])
    second = await create_ticket(ana, event["event_id"])
    url = f"/events/{event['event_id']}/close"
    body = problem(await ana.post(url, json={}), 409)
    assert rules(body) == {("event_id", "tickets_still_open")} and body["errors"][0]["open_tickets"] == 2
    assert "2 ticket(s)" in body["detail"]

    assert await report_ticket(service, first["ticket_id"], "closed", T0) == "applied"
    assert problem(await ana.post(url, json={}), 409)["errors"][0]["open_tickets"] == 1
    assert await report_ticket(service, second["ticket_id"], "closed", T0) == "applied"
    # a reopen while the event is still open blocks its closure again
    assert await report_ticket(service, second["ticket_id"], "open", T0 + timedelta(hours=1)) == "applied"
    assert problem(await ana.post(url, json={}), 409)["errors"][0]["open_tickets"] == 1
    # an older closure arriving after the reopen changes nothing
    assert await report_ticket(service, second["ticket_id"], "closed", T0 + timedelta(minutes=30)) == "stale"
    assert problem(await ana.post(url, json={}), 409)["errors"][0]["open_tickets"] == 1
    assert await report_ticket(service, second["ticket_id"], "closed", T0 + timedelta(hours=2)) == "applied"

    closed = await ana.post(url, json={"note": "Presupuesto entregado"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closed_by"]) == ("closed", "u-ana")
    assert closed.json()["attention"]["status"] == "open"
    before = await service.counts()
    response = await ana.post(
        f"/events/{event['event_id']}/tickets",
        json={"responsibility": "x", "due_date": "2026-04-05", "responsible_id": "u-carla"},
    )
    assert rules(problem(response, 409)) == {("event_id", "event_closed")}
    assert rules(problem(await ana.post(url, json={}), 409)) == {("event_id", "event_closed")}
    assert await service.counts() == before
    entries = (await ana.get(f"/audit/event/{event['event_id']}")).json()["entries"]
    assert [e["action"] for e in entries] == [
        "created",
        "ticket.requested",
        "ticket.requested",
        "ticket.closed",
        "ticket.closed",
        "ticket.reopened",
        "ticket.closed",
        "closed",
    ]


async def test_a_reopen_after_the_event_closed_never_leaves_an_open_ticket_under_it(service):
    ana = service.as_("u-ana")
    _, _, event = await open_event(service)
    ticket = await create_ticket(ana, event["event_id"])
    await report_ticket(service, ticket["ticket_id"], "closed", T0)
    assert (await ana.post(f"/events/{event['event_id']}/close", json={})).status_code == 200
    assert await report_ticket(service, ticket["ticket_id"], "open", T0 + timedelta(days=1)) == "late_reopen"
    [row] = await service.fetch("SELECT status, late_reopened_at FROM event_tickets")
    assert row["status"] == "closed" and row["late_reopened_at"] == T0 + timedelta(days=1)


async def test_unknown_events_and_tickets(service):
    ana = service.as_("u-ana")
    body = {"responsibility": "x", "due_date": "2026-04-05", "responsible_id": "u-carla"}
    assert problem(await ana.post(f"/events/{uuid.uuid4()}/tickets", json=body), 404)
    assert problem(await ana.post(f"/events/{uuid.uuid4()}/close", json={}), 404)
    assert await report_ticket(service, str(uuid.uuid4()), "closed", T0) == "unknown"


async def test_concurrent_ticket_creations_and_closure_never_leave_an_open_ticket_under_a_closed_event(
    service,
):
    """Many ticket requests and one closure per event, all at once: each ticket is either accepted before the
    closure (which then refuses) or refused after it. Half the events start with tickets already closed, so
    the closure can win there."""
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    body = {"responsibility": "x", "due_date": "2026-04-05", "responsible_id": "u-carla"}
    outcomes: dict[str, int] = {"closure_won": 0, "tickets_won": 0}
    for round_ in range(8):
        event = await create_event(ana, attention["attention_id"])
        eid = event["event_id"]
        if round_ % 2:
            done = await create_ticket(ana, eid)
            await report_ticket(service, done["ticket_id"], "closed", T0)
        requests = [ana.post(f"/events/{eid}/tickets", json=body) for _ in range(12)]
        requests.insert(round_ % 12, ana.post(f"/events/{eid}/close", json={}))
        responses = await asyncio.gather(*requests)
        closure = responses[round_ % 12]
        created = [r for r in responses if r is not closure and r.status_code == 201]
        refused = [r for r in responses if r is not closure and r.status_code != 201]
        assert all(
            r.status_code == 409 and rules(r.json()) == {("event_id", "event_closed")} for r in refused
        )
        if closure.status_code == 200:
            outcomes["closure_won"] += 1
        else:
            assert rules(problem(closure, 409)) == {("event_id", "tickets_still_open")}
            outcomes["tickets_won"] += 1
            assert created, "the closure was refused, so some ticket got in first"
        # every accepted ticket is recorded once and requested once; every refused one left nothing
        stored = await service.fetchval(
            "SELECT count(*) FROM event_tickets WHERE event_id = $1 AND status = 'open'", uuid.UUID(eid)
        )
        assert stored == len(created)
        rows = await service.fetch(
            "SELECT value FROM kit_outbox WHERE event_type = 'attentions.ticket.requested'"
        )
        requested = {json.loads(r["value"])["data"]["ticket_id"] for r in rows}
        assert {r.json()["ticket_id"] for r in created} <= requested

    violations = await service.fetchval(
        """SELECT count(*) FROM event_tickets t JOIN events e USING (event_id)
            WHERE e.status = 'closed' AND t.status <> 'closed'"""
    )
    assert violations == 0, "an open ticket under a closed event"
    assert outcomes["tickets_won"] >= 1

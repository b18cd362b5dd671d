"""Idempotency keys: a write sent again (a retry after a lost answer, a double submit) has one effect.

Found by the fault test of the whole stack: PostgreSQL stopped right after a ticket's COMMIT, the clerk's
request got an error, the retry created a second ticket. With an ``Idempotency-Key`` the retry gets the
first answer back and writes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from atn_support import (
    create_attention,
    create_client,
    create_event,
    pdf_bytes,
    problem,
    report_ticket,
    rules,
)

pytestmark = pytest.mark.integration
T = "2026-03-02T10:00:00-06:00"
TICKET = {"responsibility": "Medir la carga", "due_date": "2026-04-05", "responsible_id": "u-carla"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"form-{uuid.uuid4()}"}


async def open_event(service) -> tuple[dict, dict, dict]:
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    event = await create_event(ana, attention["attention_id"])
    return client, attention, event


async def test_a_ticket_sent_twice_with_one_key_is_created_once_and_answered_alike(service):
    ana = service.as_("u-ana")
    _, _, event = await open_event(service)
    before = await service.counts()
    headers = key()
    first = await ana.post(f"/events/{event['event_id']}/tickets", json=TICKET, headers=headers)
    second = await ana.post(f"/events/{event['event_id']}/tickets", json=TICKET, headers=headers)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    after = await service.counts()
    assert after["event_tickets"] == before["event_tickets"] + 1
    assert after["kit_outbox"] == before["kit_outbox"] + 1  # one TicketRequested, not two
    # Without a key the same request is a new write each time (two tickets may be wanted).
    for _ in range(2):
        response = await ana.post(f"/events/{event['event_id']}/tickets", json=TICKET)
        assert response.status_code == 201
    assert (await service.counts())["event_tickets"] == before["event_tickets"] + 3


async def test_every_create_of_the_seed_story_replays_under_its_key(service):
    ana = service.as_("u-ana")
    writes = [
        ("/clients", {"kind": "prospect", "name": "Granja Solar Izalco", "sector": "Energía"}),
    ]
    headers = key()
    first = await ana.post(writes[0][0], json=writes[0][1], headers=headers)
    again = await ana.post(writes[0][0], json=writes[0][1], headers=headers)
    assert again.json() == first.json() and first.status_code == again.status_code == 201
    client_id = first.json()["client_id"]
    contact = {"name": "Rosa Pérez", "position": "Gerente", "phone": "2451-0000"}
    steps = [
        (f"/clients/{client_id}/contacts", contact),
        (f"/clients/{client_id}/attentions", {"channel": "visit", "subject": "Visita", "happened_at": T}),
    ]
    for path, body in steps:
        headers = key()
        answers = [await ana.post(path, json=body, headers=headers) for _ in range(2)]
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert answers[0].json() == answers[1].json()
    attention_id = answers[0].json()["attention_id"]
    headers = key()
    event_body = {
        "title": "Factibilidad",
        "internal_commitment_date": "2026-04-10",
        "client_commitment_date": "2026-04-20",
    }
    path = f"/attentions/{attention_id}/events"
    events = [await ana.post(path, json=event_body, headers=headers) for _ in range(2)]
    assert events[0].json() == events[1].json()
    headers = key()
    uploads = [
        await ana.post(
            f"/attentions/{attention_id}/attachments",
            files={"file": ("carta.pdf", pdf_bytes(), "application/pdf")},
            headers=headers,
        )
        for _ in range(2)
    ]
    assert [u.status_code for u in uploads] == [201, 201], uploads[0].text
    assert uploads[0].json() == uploads[1].json()
    counts = await service.counts()
    assert (counts["clients"], counts["client_contacts"], counts["attentions"], counts["events"]) == (
        1,
        1,
        1,
        1,
    )
    assert counts["attachments"] == 1


async def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(service):
    ana = service.as_("u-ana")
    _, _, event = await open_event(service)
    headers = key()
    created = await ana.post(f"/events/{event['event_id']}/tickets", json=TICKET, headers=headers)
    assert created.status_code == 201
    before = await service.counts()
    other = {**TICKET, "responsibility": "Otra tarea"}
    body = problem(await ana.post(f"/events/{event['event_id']}/tickets", json=other, headers=headers), 422)
    assert rules(body) == {("Idempotency-Key", "idempotency_key_reused")}
    assert await service.counts() == before


async def test_keys_are_per_caller(service):
    ana, beto = service.as_("u-ana"), service.as_("u-beto")
    headers = key()
    body = {"kind": "prospect", "name": "Beneficio El Carmen", "sector": "Agroindustria"}
    mine = await ana.post("/clients", json=body, headers=headers)
    theirs = await beto.post("/clients", json=body, headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["client_id"] != theirs.json()["client_id"]


async def test_a_refused_write_is_not_remembered_so_its_retry_may_succeed_later(service):
    ana = service.as_("u-ana")
    _, attention, event = await open_event(service)
    ticket = (await ana.post(f"/events/{event['event_id']}/tickets", json=TICKET)).json()
    headers = key()
    path = f"/events/{event['event_id']}/close"
    refused = await ana.post(path, json={"note": "Listo"}, headers=headers)
    assert "tickets_still_open" in {rule for _, rule in rules(problem(refused, 409))}
    await report_ticket(service, ticket["ticket_id"], "closed", datetime.now(UTC) + timedelta(seconds=1))
    closed = await ana.post(path, json={"note": "Listo"}, headers=headers)
    assert closed.status_code == 200, closed.text
    again = await ana.post(path, json={"note": "Listo"}, headers=headers)
    assert again.status_code == 200 and again.json() == closed.json()
    assert again.headers.get("idempotent-replayed") == "true"
    # The attention's close replays too, and a plain second close (no key) is the usual 409.
    headers = key()
    path = f"/attentions/{attention['attention_id']}/close"
    answers = [await ana.post(path, json={"note": "Atendido"}, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert (await ana.post(path, json={"note": "Atendido"})).status_code == 409


async def test_the_same_key_at_the_same_time_applies_once(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    headers = key()
    body = {"channel": "email", "subject": "Reclamo", "happened_at": "2026-03-02T10:00:00-06:00"}
    answers = await asyncio.gather(
        *(
            ana.post(f"/clients/{client['client_id']}/attentions", json=body, headers=headers)
            for _ in range(8)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["attention_id"] for a in answers}) == 1
    assert (await service.counts())["attentions"] == 1


async def test_a_replay_shows_nothing_to_someone_who_lost_access(service):
    ana, admin = service.as_("u-ana"), service.admin
    client = await create_client(ana, access_user_ids=["u-beto"])
    beto = service.as_("u-beto")
    headers = key()
    body = {"channel": "phone", "subject": "Consulta", "happened_at": "2026-03-02T10:00:00-06:00"}
    path = f"/clients/{client['client_id']}/attentions"
    assert (await beto.post(path, json=body, headers=headers)).status_code == 201
    revoked = await admin.delete(f"/clients/{client['client_id']}/access/u-beto")
    assert revoked.status_code == 200, revoked.text
    problem(await beto.post(path, json=body, headers=headers), 404)


@pytest.mark.parametrize("bad", ["", " ", "x" * 201, "clave-ñ", "a\tb"])
async def test_a_malformed_key_is_a_clear_422(service, bad):
    ana = service.as_("u-ana")
    before = await service.counts()
    response = await ana.post(
        "/clients",
        json={"kind": "prospect", "name": "Prueba", "sector": "x"},
        headers={"Idempotency-Key": bad.encode()},  # bytes: httpx would refuse a non-ASCII str
    )
    if response.status_code == 201:  # httpx strips surrounding blanks: an empty header is no header
        assert bad.strip() == ""
        return
    assert rules(problem(response, 422)) == {("Idempotency-Key", "idempotency_key_format")}
    assert await service.counts() == before

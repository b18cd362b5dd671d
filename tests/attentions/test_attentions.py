"""Attentions: created only under a client or a suministro; codes, lists with progress, tabs, closing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from atn_support import create_attention, create_client, create_event, problem, rules, seed_supply_point
from attentions.domain.codes import YEARLY_CODE
from crm_contracts.envelope import Envelope
from crm_contracts.events.attentions import AttentionOpened

pytestmark = pytest.mark.integration


async def test_attention_under_a_client_records_who_when_channel_and_contacts(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    contact = (await ana.post(f"/clients/{client['client_id']}/contacts", json={"name": "Rosa"})).json()
    attention = await create_attention(
        ana,
        client["client_id"],
        channel="letter",
        contact_ids=[contact["contact_id"]],
        contact_names=["Secretario municipal"],
    )
    assert YEARLY_CODE.match(attention["code"]) and attention["code"].startswith("ATN-")
    assert attention["registered_by"] == "u-ana" and attention["status"] == "open"
    assert attention["happened_at"] == "2026-03-02T16:00:00Z"
    detail = (await ana.get(f"/attentions/{attention['attention_id']}")).json()
    assert detail["subject_name"] == client["name"] and detail["events"] == []
    assert [c["name"] for c in detail["contacts"]] == ["Rosa"]
    assert detail["contact_names"] == ["Secretario municipal"]
    [row] = await service.fetch(
        "SELECT value FROM kit_outbox WHERE event_type = 'attentions.attention.opened'"
    )
    data = json.loads(row["value"])["data"]
    assert data["subject"] == {
        "kind": "client",
        "client_id": client["client_id"],
        "nic": None,
        "display_name": client["name"],
    }
    assert data["code"] == attention["code"] and data["channel"] == "letter"


async def test_attention_under_a_suministro_is_open_to_all_staff(service):
    await seed_supply_point(service, "3012345")
    attention = (
        await service.as_("u-ana").post(
            "/supply-points/3012345/attentions",
            json={
                "channel": "visit",
                "subject": "Reclamo por voltaje",
                "happened_at": "2026-03-01T08:00:00Z",
            },
        )
    ).json()
    assert attention["subject_kind"] == "supply_point" and attention["nic"] == "3012345"
    beto = service.as_("u-beto")
    assert (await beto.get(f"/attentions/{attention['attention_id']}")).status_code == 200
    assert [a["code"] for a in (await beto.get("/supply-points/3012345/attentions")).json()["items"]] == [
        attention["code"]
    ]
    assert (await beto.get("/supply-points/3012345/history")).json()[0]["code"] == attention["code"]
    # AttentionOpened is written by the same statement as the attention, code and holder filled in there.
    [row] = await service.fetch(
        "SELECT partition_key, value FROM kit_outbox WHERE event_type = 'attentions.attention.opened'"
    )
    opened = Envelope[AttentionOpened].model_validate_json(row["value"])
    assert row["partition_key"] == attention["attention_id"] == str(opened.data.attention_id)
    assert opened.data.code == attention["code"] and opened.data.summary == "Reclamo por voltaje"
    assert opened.data.subject.model_dump() == {
        "kind": "supply_point",
        "client_id": None,
        "nic": "3012345",
        "display_name": "María Elena Castro",
    }


async def test_codes_are_unique_and_consecutive_under_concurrency(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    results = await asyncio.gather(*(create_attention(ana, client["client_id"]) for _ in range(40)))
    codes = sorted(r["code"] for r in results)
    year = codes[0].split("-")[1]
    assert codes == [f"ATN-{year}-{n:06d}" for n in range(1, 41)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"subject": "x", "happened_at": "2026-03-01T08:00:00Z"}, {("channel", "missing")}),
        (
            {"channel": "fax", "subject": "x", "happened_at": "2026-03-01T08:00:00Z"},
            {("channel", "literal_error")},
        ),
        ({"channel": "phone", "happened_at": "2026-03-01T08:00:00Z"}, {("subject", "missing")}),
        ({"channel": "phone", "subject": "x"}, {("happened_at", "missing")}),
        (
            {"channel": "phone", "subject": "x", "happened_at": "2026-03-01T08:00:00"},
            {("happened_at", "timezone_aware")},
        ),
        (
            {
                "channel": "phone",
                "subject": "x",
                "happened_at": "2026-03-01T08:00:00Z",
                "contact_ids": ["00000000-0000-0000-0000-000000000001"],
            },
            {("contact_ids[0]", "contact_of_client")},
        ),
    ],
    ids=["no-channel", "bad-channel", "no-subject", "no-time", "naive-time", "foreign-contact"],
)
async def test_bad_attentions_are_refused_naming_field_and_rule(service, body, expected):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    before = await service.counts()
    assert (
        rules(problem(await ana.post(f"/clients/{client['client_id']}/attentions", json=body), 422))
        == expected
    )
    assert await service.counts() == before


async def test_attentions_cannot_be_created_from_the_list_or_for_unknown_subjects(service):
    ana = service.as_("u-ana")
    body = {"channel": "phone", "subject": "x", "happened_at": "2026-03-01T08:00:00Z"}
    before = await service.counts()
    assert problem(await ana.post("/attentions", json=body), 405)
    assert problem(await ana.post(f"/clients/{uuid.uuid4()}/attentions", json=body), 404)
    assert problem(await ana.post("/supply-points/999/attentions", json=body), 404)
    assert await service.counts() == before


async def test_retired_suministros_take_no_new_attentions(service):
    await seed_supply_point(service, "3000001")
    await service.fetchval("UPDATE supply_points SET retired_at = now(), retired_reason = 'baja' RETURNING 1")
    body = {"channel": "phone", "subject": "x", "happened_at": "2026-03-01T08:00:00Z"}
    response = await service.as_("u-ana").post("/supply-points/3000001/attentions", json=body)
    assert rules(problem(response, 409)) == {("nic", "supply_point_retired")}


async def test_client_tabs_list_open_closed_and_all_and_history_nests_events(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    cid = client["client_id"]
    first = await create_attention(ana, cid, subject="Primera", happened_at="2026-01-01T10:00:00Z")
    second = await create_attention(ana, cid, subject="Segunda", happened_at="2026-02-01T10:00:00Z")
    await create_event(ana, second["attention_id"])
    closed = await ana.post(
        f"/attentions/{first['attention_id']}/close", json={"note": "Atendido por teléfono"}
    )
    assert closed.status_code == 200, closed.text

    async def tab(status):
        return [
            a["subject"]
            for a in (await ana.get(f"/clients/{cid}/attentions", params={"status": status})).json()["items"]
        ]

    assert await tab("open") == ["Segunda"]
    assert await tab("closed") == ["Primera"]
    assert sorted(await tab("all")) == ["Primera", "Segunda"]
    history = (await ana.get(f"/clients/{cid}/history")).json()
    assert [h["subject"] for h in history] == ["Segunda", "Primera"]
    assert [len(h["events"]) for h in history] == [1, 0]


async def test_attention_list_shows_progress_and_filters(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"], channel="email", subject="Con eventos")
    await create_attention(ana, client["client_id"], channel="phone", subject="Hito sin eventos")
    first = await create_event(ana, attention["attention_id"])
    await create_event(ana, attention["attention_id"], title="Otro")
    assert (await ana.post(f"/events/{first['event_id']}/close", json={})).status_code == 200

    listed = (await ana.get("/attentions")).json()
    progress = {a["subject"]: (a["events_closed"], a["events_total"]) for a in listed["items"]}
    assert progress == {"Con eventos": (1, 2), "Hito sin eventos": (0, 0)}
    by_channel = (await ana.get("/attentions", params={"channel": "email"})).json()["items"]
    assert [a["subject"] for a in by_channel] == ["Con eventos"]
    by_text = (await ana.get("/attentions", params={"q": attention["code"]})).json()["items"]
    assert [a["subject"] for a in by_text] == ["Con eventos"]
    assert (await ana.get("/attentions", params={"status": "closed"})).json()["total"] == 0
    assert (await ana.get("/attentions", params={"subject_kind": "supply_point"})).json()["total"] == 0
    window = {"happened_from": "2026-03-02T00:00:00Z", "happened_to": "2026-03-03T00:00:00Z"}
    assert (await ana.get("/attentions", params=window)).json()["total"] == 2


async def test_attention_closes_only_when_every_event_is_closed(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    attention = await create_attention(ana, client["client_id"])
    event = await create_event(ana, attention["attention_id"])
    url = f"/attentions/{attention['attention_id']}/close"
    before = await service.counts()
    body = problem(await ana.post(url, json={"note": "listo"}), 409)
    assert rules(body) == {("attention_id", "events_still_open")} and body["errors"][0]["open_events"] == 1
    assert rules(problem(await ana.post(url, json={}), 422)) == {("note", "missing")}
    assert rules(problem(await ana.post(url, json={"note": "   "}), 422)) == {("note", "string_too_short")}
    assert await service.counts() == before

    assert (await ana.post(f"/events/{event['event_id']}/close", json={"note": "hecho"})).status_code == 200
    closed = await ana.post(url, json={"note": "Se entregó el presupuesto"})
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["closed_by"], closed.json()["closing_note"]) == (
        "closed",
        "u-ana",
        "Se entregó el presupuesto",
    )
    assert closed.json()["closed_at"]
    assert rules(problem(await ana.post(url, json={"note": "otra vez"}), 409)) == {
        ("attention_id", "attention_closed")
    }
    entries = (await ana.get(f"/audit/attention/{attention['attention_id']}")).json()["entries"]
    assert [e["action"] for e in entries] == ["created", "closed"]
    assert entries[1]["before"]["status"] == "open" and entries[1]["after"]["status"] == "closed"


async def test_attention_closure_and_event_creation_never_race(service):
    """Either the event is created (and the closure refused) or the closure wins (and the event refused)."""
    ana = service.as_("u-ana")
    client = await create_client(ana)
    for _ in range(5):
        attention = await create_attention(ana, client["client_id"])
        aid = attention["attention_id"]
        event_body = {
            "title": "t",
            "internal_commitment_date": "2026-04-01",
            "client_commitment_date": "2026-04-02",
        }
        responses = await asyncio.gather(
            *(ana.post(f"/attentions/{aid}/events", json=event_body) for _ in range(5)),
            ana.post(f"/attentions/{aid}/close", json={"note": "fin"}),
        )
        # Events: 201 or 409 (attention already closed); the closure: 200 when it ran first, else 409.
        assert {r.status_code for r in responses[:-1]} <= {201, 409}
        assert responses[-1].status_code in {200, 409}
        status = await service.fetchval(
            "SELECT status FROM attentions WHERE attention_id = $1", uuid.UUID(aid)
        )
        open_events = await service.fetchval(
            "SELECT count(*) FROM events WHERE attention_id = $1 AND status = 'open'", uuid.UUID(aid)
        )
        assert not (status == "closed" and open_events), "an open event under a closed attention"

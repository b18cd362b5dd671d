"""Clients (prospects, stakeholders, internal clients), search, contacts and access lists."""

from __future__ import annotations

import json
import uuid

import pytest
from atn_support import create_client, problem, rules

pytestmark = pytest.mark.integration


async def test_a_new_client_gets_a_code_and_its_creator_on_the_access_list(service):
    ana = service.as_("u-ana")
    client = await create_client(ana, access_user_ids=["u-beto"], phones=["2451-0000"], email="alcaldia@x.sv")
    assert client["code"] == "CLI-000001" and client["access"] == ["u-ana", "u-beto"]
    second = await create_client(ana, name="Cooperativa Ganadera", kind="prospect")
    assert second["code"] == "CLI-000002"
    rows = await service.fetch("SELECT event_type, value FROM kit_outbox ORDER BY id")
    mine = [json.loads(r["value"])["data"] for r in rows if r["event_type"].startswith("attentions.client")]
    assert mine[0]["code"] == "CLI-000001" and mine[0]["kind"] == "stakeholder"
    assert [(m["user_id"], m["granted_by"]) for m in mine[1:3]] == [("u-ana", "u-ana"), ("u-beto", "u-ana")]


async def test_internal_clients_are_stakeholders_only(service):
    ana = service.as_("u-ana")
    internal = await create_client(ana, name="Gerencia de Informática", internal=True)
    assert internal["internal"] is True and internal["kind"] == "stakeholder"
    before = await service.counts()
    body = {"kind": "prospect", "internal": True, "name": "Mal"}
    assert rules(problem(await ana.post("/clients", json=body), 422)) == {
        ("internal", "internal_is_stakeholder")
    }
    response = await ana.patch(f"/clients/{internal['client_id']}", json={"kind": "prospect"})
    assert rules(problem(response, 422)) == {("internal", "internal_is_stakeholder")}
    assert await service.counts() == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"kind": "stakeholder"}, {("name", "missing")}),
        ({"name": "X"}, {("kind", "missing")}),
        ({"kind": "partner", "name": "X"}, {("kind", "literal_error")}),
        ({"kind": "prospect", "name": "  "}, {("name", "string_too_short")}),
        ({"kind": "prospect", "name": "X", "email": "nope"}, {("email", "string_pattern_mismatch")}),
        ({"kind": "prospect", "name": "X", "colour": "red"}, {("colour", "extra_forbidden")}),
        (
            {"kind": "prospect", "name": "X", "access_user_ids": ["u-ghost"]},
            {("access_user_ids[0]", "active_staff_member")},
        ),
        (
            {"kind": "prospect", "name": "X", "access_user_ids": ["u-beto", "u-old"]},
            {("access_user_ids[1]", "active_staff_member")},
        ),
    ],
    ids=[
        "no-name",
        "no-kind",
        "bad-kind",
        "blank-name",
        "bad-email",
        "unknown-field",
        "ghost-user",
        "inactive-user",
    ],
)
async def test_bad_clients_are_refused_naming_field_and_rule(service, body, expected):
    before = await service.counts()
    assert rules(problem(await service.as_("u-ana").post("/clients", json=body), 422)) == expected
    assert await service.counts() == before


async def test_clients_are_searched_by_name_code_or_nit_and_filtered(service):
    ana = service.as_("u-ana")
    await create_client(ana, name="Alcaldía de Sonsonate", tax_id="0614-111111-101-1")
    await create_client(ana, name="Cooperativa El Progreso", kind="prospect", tax_id="0614-222222-102-2")
    await create_client(ana, name="Gerencia de Informática", internal=True, tax_id=None)
    await create_client(service.as_("u-beto"), name="Cliente de Beto", kind="prospect")

    async def names(**params):
        response = await ana.get("/clients", params=params)
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    assert await names() == ["Alcaldía de Sonsonate", "Cooperativa El Progreso", "Gerencia de Informática"]
    assert await names(q="progreso") == ["Cooperativa El Progreso"]
    assert await names(q="CLI-000001") == ["Alcaldía de Sonsonate"]
    assert await names(q="222222") == ["Cooperativa El Progreso"]
    assert await names(kind="prospect") == ["Cooperativa El Progreso"]
    assert await names(internal="true") == ["Gerencia de Informática"]
    assert await names(kind="stakeholder", internal="false") == ["Alcaldía de Sonsonate"]
    page = (await ana.get("/clients", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 3 and [c["name"] for c in page["items"]] == ["Gerencia de Informática"]
    admin_total = (await service.admin.get("/clients")).json()["total"]
    assert admin_total == 4
    assert rules(problem(await ana.get("/clients", params={"limit": 0}), 422)) == {
        ("limit", "greater_than_equal")
    }


async def test_editing_a_client_is_audited_and_published(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    response = await ana.patch(
        f"/clients/{client['client_id']}", json={"sector": "Municipal", "phones": ["1"]}
    )
    assert response.status_code == 200 and response.json()["sector"] == "Municipal"
    entries = (await ana.get(f"/audit/client/{client['client_id']}")).json()["entries"]
    assert [e["action"] for e in entries] == ["created", "access.granted", "updated"]
    assert entries[2]["before"]["sector"] == "Gobierno" and entries[2]["after"]["sector"] == "Municipal"
    assert entries[2]["actor"] == "u-ana"
    upserts = await service.fetch(
        "SELECT value FROM kit_outbox WHERE event_type = 'attentions.client.upserted' ORDER BY id"
    )
    assert json.loads(upserts[-1]["value"])["data"]["sector"] == "Municipal"
    response = await ana.patch(f"/clients/{client['client_id']}", json={"name": None})
    assert rules(problem(response, 422)) == {("name", "required")}


async def test_contacts_are_added_edited_and_removed(service):
    ana = service.as_("u-ana")
    client = await create_client(ana)
    base = f"/clients/{client['client_id']}/contacts"
    response = await ana.post(
        base, json={"name": "Rosa Méndez", "position": "Alcaldesa", "decision_maker": True}
    )
    assert response.status_code == 201
    contact = response.json()
    edited = await ana.patch(f"{base}/{contact['contact_id']}", json={"phone": "7000-0000"})
    assert edited.json()["phone"] == "7000-0000" and edited.json()["decision_maker"] is True
    assert [c["name"] for c in (await ana.get(base)).json()] == ["Rosa Méndez"]
    assert (await ana.delete(f"{base}/{contact['contact_id']}")).status_code == 204
    assert (await ana.get(base)).json() == []
    history = (await ana.get(f"/audit/contact/{contact['contact_id']}")).json()["entries"]
    assert [h["action"] for h in history] == ["created", "updated", "removed"]
    assert problem(await ana.patch(f"{base}/{uuid.uuid4()}", json={"phone": "1"}), 404)
    assert rules(problem(await ana.post(base, json={"position": "x"}), 422)) == {("name", "missing")}


async def test_access_granted_and_revoked_takes_effect_at_once(service):
    ana, beto = service.as_("u-ana"), service.as_("u-beto")
    client = await create_client(ana)
    url = f"/clients/{client['client_id']}"
    assert (await beto.get(url)).status_code == 404

    granted = await ana.post(f"{url}/access", json={"user_id": "u-beto"})
    assert granted.status_code == 201 and [a["user_id"] for a in granted.json()] == ["u-ana", "u-beto"]
    assert (await beto.get(url)).status_code == 200
    assert [c["name"] for c in (await beto.get("/clients")).json()["items"]] == [client["name"]]

    assert (await ana.delete(f"{url}/access/u-beto")).status_code == 200
    assert problem(await beto.get(url), 404)["detail"] == "client not found"
    assert (await beto.get("/clients")).json()["total"] == 0
    assert problem(await ana.delete(f"{url}/access/u-beto"), 404)

    rows = await service.fetch("SELECT event_type, value FROM kit_outbox ORDER BY id")
    changes = [
        (r["event_type"], json.loads(r["value"])["data"]["user_id"])
        for r in rows
        if r["event_type"].startswith("attentions.client_access")
    ]
    assert changes[-2:] == [
        ("attentions.client_access.granted", "u-beto"),
        ("attentions.client_access.revoked", "u-beto"),
    ]
    assert rules(problem(await ana.post(f"{url}/access", json={"user_id": "u-old"}), 422)) == {
        ("user_id", "active_staff_member")
    }


async def test_unknown_clients_are_not_found(service):
    ana = service.as_("u-ana")
    assert problem(await ana.get(f"/clients/{uuid.uuid4()}"), 404)
    assert rules(problem(await ana.get("/clients/not-a-uuid"), 422)) == {("client_id", "uuid_parsing")}

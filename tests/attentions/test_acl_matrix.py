"""The access matrix: every endpoint that returns or changes client data, for users with and without access.

A client is visible to its access list (creator + users added) and to admins. Anyone else gets 404, the very
same answer as for an id that does not exist, and their writes change nothing.
"""

from __future__ import annotations

import uuid

import pytest
from atn_support import create_attention, create_client, create_event, create_ticket, pdf_bytes, problem

pytestmark = pytest.mark.integration

WITH_ACCESS = ("u-admin", "u-ana", "u-beto")  # admin, creator, added with "+ Agregar usuario"
WITHOUT_ACCESS = ("u-carla", "u-gerente")  # staff, an agent and a technical manager, not on the list


async def world(service) -> dict[str, str]:
    ana = service.as_("u-ana")
    client = await create_client(ana, access_user_ids=["u-beto"])
    cid = client["client_id"]
    contact = (await ana.post(f"/clients/{cid}/contacts", json={"name": "Rosa"})).json()
    attention = await create_attention(ana, cid)
    aid = attention["attention_id"]
    event = await create_event(ana, aid)
    eid = event["event_id"]
    await create_ticket(ana, eid)
    files = {"file": ("carta.pdf", pdf_bytes(), "application/pdf")}
    att = (await ana.post(f"/attentions/{aid}/attachments", files=files)).json()
    evatt = (await ana.post(f"/events/{eid}/attachments", files=files)).json()
    return {
        "cid": cid,
        "contact": contact["contact_id"],
        "aid": aid,
        "eid": eid,
        "att": att["attachment_id"],
        "evatt": evatt["attachment_id"],
    }


READS = [
    "/clients/{cid}",
    "/clients/{cid}/access",
    "/clients/{cid}/contacts",
    "/clients/{cid}/attentions",
    "/clients/{cid}/history",
    "/attentions/{aid}",
    "/attentions/{aid}/events",
    "/attentions/{aid}/attachments",
    "/events/{eid}",
    "/events/{eid}/tickets",
    "/events/{eid}/attachments",
    "/attachments/{att}",
    "/attachments/{att}/content",
    "/attachments/{evatt}",
    "/attachments/{evatt}/content",
    "/audit/client/{cid}",
    "/audit/contact/{contact}",
    "/audit/attention/{aid}",
    "/audit/event/{eid}",
]


def writes(ids: dict[str, str]) -> list[tuple[str, str, dict]]:
    ticket = {"responsibility": "x", "due_date": "2026-04-05", "responsible_id": "u-carla"}
    event = {"title": "x", "internal_commitment_date": "2026-04-01", "client_commitment_date": "2026-04-02"}
    attention = {"channel": "phone", "subject": "x", "happened_at": "2026-03-01T08:00:00Z"}
    files = {"files": {"file": ("carta.pdf", pdf_bytes(), "application/pdf")}}
    return [
        ("PATCH", "/clients/{cid}", {"json": {"name": "Robado"}}),
        ("POST", "/clients/{cid}/access", {"json": {"user_id": "u-carla"}}),
        ("DELETE", "/clients/{cid}/access/u-ana", {}),
        ("POST", "/clients/{cid}/contacts", {"json": {"name": "Intruso"}}),
        ("PATCH", "/clients/{cid}/contacts/{contact}", {"json": {"phone": "1"}}),
        ("DELETE", "/clients/{cid}/contacts/{contact}", {}),
        ("POST", "/clients/{cid}/attentions", {"json": attention}),
        ("POST", "/attentions/{aid}/close", {"json": {"note": "x"}}),
        ("POST", "/attentions/{aid}/events", {"json": event}),
        ("POST", "/attentions/{aid}/attachments", files),
        ("POST", "/events/{eid}/tickets", {"json": ticket}),
        ("POST", "/events/{eid}/close", {"json": {}}),
        ("POST", "/events/{eid}/attachments", files),
    ]


async def test_reads_of_client_data_by_access(service):
    ids = await world(service)
    for template in READS:
        url = template.format(**ids)
        for user in WITH_ACCESS:
            response = await service.as_(user).get(url)
            assert response.status_code == 200, (user, url, response.text)
        for user in WITHOUT_ACCESS:
            body = problem(await service.as_(user).get(url), 404)
            # the same answer as for something that does not exist: nothing hints the client is there
            assert body["title"] == "Not found" and "access" not in body["detail"], (user, url, body)


async def test_no_access_looks_exactly_like_no_such_client(service):
    ids = await world(service)
    carla = service.as_("u-carla")
    for template in ("/clients/{cid}", "/attentions/{aid}", "/events/{eid}", "/attachments/{att}/content"):
        hidden = problem(await carla.get(template.format(**ids)), 404)
        missing = problem(await carla.get(template.format(**{k: str(uuid.uuid4()) for k in ids})), 404)
        assert {k: v for k, v in hidden.items() if k != "instance"} == {
            k: v for k, v in missing.items() if k != "instance"
        }


async def test_lists_show_client_data_only_to_those_with_access(service):
    ids = await world(service)
    for user in (*WITH_ACCESS, *WITHOUT_ACCESS):
        http = service.as_(user)
        clients = {c["client_id"] for c in (await http.get("/clients")).json()["items"]}
        attentions = {a["attention_id"] for a in (await http.get("/attentions")).json()["items"]}
        events = {e["event_id"] for e in (await http.get("/events")).json()["items"]}
        filtered = (await http.get("/attentions", params={"client_id": ids["cid"]})).json()["items"]
        seen = user in WITH_ACCESS
        assert (ids["cid"] in clients, ids["aid"] in attentions, ids["eid"] in events, bool(filtered)) == (
            seen,
            seen,
            seen,
            seen,
        ), user


async def test_writes_without_access_are_not_found_and_change_nothing(service):
    ids = await world(service)
    before = await service.counts()
    for method, template, kwargs in writes(ids):
        for user in WITHOUT_ACCESS:
            response = await service.as_(user).request(method, template.format(**ids), **kwargs)
            assert response.status_code == 404, (user, method, template, response.text)
    assert await service.counts() == before
    assert (await service.as_("u-ana").get(f"/clients/{ids['cid']}")).json()["name"] != "Robado"


async def test_removal_from_the_access_list_takes_effect_at_once_everywhere(service):
    ids = await world(service)
    beto = service.as_("u-beto")
    assert (await beto.get(f"/attachments/{ids['att']}/content")).status_code == 200
    assert (await service.as_("u-ana").delete(f"/clients/{ids['cid']}/access/u-beto")).status_code == 200
    for template in READS:
        assert (await beto.get(template.format(**ids))).status_code == 404, template
    assert (await beto.get("/attentions")).json()["total"] == 0
    # an admin may put them back
    assert (
        await service.admin.post(f"/clients/{ids['cid']}/access", json={"user_id": "u-beto"})
    ).status_code == 201
    assert (await beto.get(f"/events/{ids['eid']}")).status_code == 200

"""Who may call, and who may see what, across every service.

- JWT attacks on every operation of every service (the verification is shared, crmkit.auth, but each
  app must actually depend on it on every route): alg none, HS256 signed with the public key, expired,
  wrong issuer, wrong audience, another key, a tampered payload, garbage, an empty bearer -> 401 problem.
- The access matrix across services: a staff member without access to a client (u-otro) sees nothing of
  it anywhere: its attentions, events, attachments and audit (attentions), its tickets and work orders
  (tickets), the emails about its tickets (notifications), and the operators' API (factelec-sync) is
  closed to non-admins; the reports service gives no report nor export of it. A removal from the access
  list reaches the tickets service through the broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from crmkit.auth import DevTokenIssuer
from eventually import eventually
from system.fuzz_support import AUDIENCE, ISSUER, SERVICES, System, running_system, seed_world

pytestmark = pytest.mark.integration

OUTSIDER = "u-otro"  # an agent, staff, not on the client's access list, not responsible nor CC


@pytest.fixture(scope="module")
async def system(infra) -> AsyncIterator[System]:
    async with running_system(infra) as system:
        await seed_world(system)
        yield system


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-admin",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def attacks(system: System) -> dict[str, str]:
    """Tokens an attacker can make, each naming the rule it breaks."""
    issuer = system.issuer
    unsigned = (
        f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    )
    confused_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.kid}).encode())}."
        f"{b64(json.dumps(claims()).encode())}"
    )
    confused = hmac.new(issuer.public_pem().encode(), confused_input.encode(), hashlib.sha256).digest()
    header, _, signature = system.token("u-ana").split(".")
    tampered = f"{header}.{b64(json.dumps(claims(sub='u-ana')).encode())}.{signature}"
    stranger = DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE)
    return {
        "alg none": unsigned + ".",
        "HS256 with the public key": f"{confused_input}.{b64(confused)}",
        "expired": issuer.issue("u-admin", roles=["admin"], ttl_s=-120),
        "wrong issuer": issuer.issue("u-admin", roles=["admin"], iss="https://evil.example/"),
        "wrong audience": issuer.issue("u-admin", roles=["admin"], aud="another-app"),
        "another key": stranger.issue("u-admin", roles=["admin"]),
        "tampered payload": tampered,
        "garbage": "definitely-not-a-jwt",
        "empty": "",
    }


def routes(system: System, service: str) -> list[tuple[str, str]]:
    """(method, path) of every documented operation, path parameters filled with real ids."""
    found = []
    for template, item in system.app(service).openapi()["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: system.ids.get(m.group(1), "x"), template)
        found += [(method.upper(), path) for method in item]
    return found


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_refuses_forged_and_invalid_tokens(system: System, service: str) -> None:
    checked = 0
    for name, token in attacks(system).items():
        http = system.client(service, {"Authorization": f"Bearer {token}"})
        for method, path in routes(system, service):
            response = await http.request(method, path)
            assert response.status_code == 401, (name, method, path, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == "Authorization"
            checked += 1
        for method, path in routes(system, service):  # and no token at all
            assert (await system.client(service).request(method, path)).status_code == 401, (method, path)
    assert checked >= 9 * 4


# -- the access matrix ----------------------------------------------------------------------------------


async def test_an_outsider_sees_nothing_of_the_client_in_attentions(system: System) -> None:
    ids = system.ids
    outsider, insider = system.as_("attentions", OUTSIDER), system.as_("attentions", "u-beto")
    for path in (
        f"/clients/{ids['client_id']}",
        f"/clients/{ids['client_id']}/attentions",
        f"/clients/{ids['client_id']}/history",
        f"/attentions/{ids['attention_id']}",
        f"/events/{ids['event_id']}",
        f"/events/{ids['event_id']}/tickets",
        f"/attachments/{ids['attachment_id']}/content",
        f"/audit/attention/{ids['attention_id']}",
    ):
        assert (await insider.get(path)).status_code == 200, path
        hidden = await outsider.get(path)
        assert hidden.status_code == 404, (path, hidden.text)
    assert ids["client_id"] not in (await outsider.get("/clients")).text
    assert ids["attention_id"] not in (await outsider.get("/attentions")).text
    assert ids["event_id"] not in (await outsider.get("/events")).text


async def test_an_outsider_sees_nothing_of_the_client_in_tickets(system: System) -> None:
    ids = system.ids
    outsider = system.as_("tickets", OUTSIDER)
    for user in ("u-carla", "u-ana", "u-beto", "u-admin"):  # responsible, creator, on the list, admin
        assert (await system.as_("tickets", user).get(f"/tickets/{ids['ticket_id']}")).status_code == 200
    assert (await outsider.get(f"/tickets/{ids['ticket_id']}")).status_code == 404
    for filters in (
        {},
        {"client_id": ids["client_id"]},
        {"event_id": ids["event_id"]},
        {"responsible": "u-carla"},
    ):
        page = (await outsider.get("/tickets", params=filters)).json()
        assert ids["ticket_id"] not in json.dumps(page), filters
    for path in (f"/work-orders/{ids['order_id']}", f"/work-orders/{ids['order_id']}/pdf"):
        assert (await outsider.get(path)).status_code == 404, path
    page = (await outsider.get("/work-orders", params={"ticket_id": ids["ticket_id"]})).json()
    assert page["items"] == [] and page["total"] == 0
    # Writing on it is "not found" too (no hint it exists).
    response = await outsider.post(f"/work-orders/{ids['order_id']}/submit", json={})
    assert response.status_code == 404, response.text
    response = await outsider.post(
        "/work-orders",
        json={
            "ticket_id": ids["ticket_id"],
            "work_type": "inspection",
            "address": "x",
            "description": "x",
            "requested_date": "2026-12-01",
        },
    )
    assert response.status_code == 422 and response.json()["errors"][0]["rule"] == "unknown_ticket"


async def test_an_outsider_sees_no_email_about_the_clients_tickets(system: System) -> None:
    ids = system.ids
    outsider = system.as_("notifications", OUTSIDER)
    responsible = system.as_("notifications", "u-carla")
    assert (await responsible.get(f"/messages/{ids['message_id']}")).status_code == 200
    assert (await outsider.get(f"/messages/{ids['message_id']}")).status_code == 404
    for path, params in (
        ("/messages", {}),
        ("/messages", {"ticket_id": ids["ticket_id"]}),
        (f"/tickets/{ids['ticket_id']}/messages", {}),
        ("/me/messages", {}),
    ):
        page = (await outsider.get(path, params=params)).json()
        assert page["items"] == [], (path, params)
    # Someone else's delivery log, or a retry, needs the admin role.
    assert (await outsider.get("/people/u-carla/messages")).status_code == 403
    assert (await outsider.get("/messages", params={"recipient_id": "u-carla"})).status_code == 403
    assert (await outsider.post(f"/messages/{ids['message_id']}/retry")).status_code == 403


async def test_an_outsider_gets_no_report_of_the_client(system: System) -> None:
    ids = system.ids
    today = date.today()
    period = {"client_id": ids["client_id"], "from": str(today - timedelta(days=300)), "to": str(today)}
    for user in ("u-ana", "u-beto", "u-admin"):
        assert (await system.as_("reports", user).get("/reports/subject", params=period)).status_code == 200
    outsider = system.as_("reports", OUTSIDER)
    hidden = await outsider.get("/reports/subject", params=period)
    missing = await outsider.get("/reports/subject", params={**period, "client_id": str(uuid.uuid4())})
    assert hidden.status_code == missing.status_code == 404, hidden.text
    for fmt in ("csv", "xlsx", "pdf"):
        export = await outsider.get("/reports/subject/export", params={**period, "format": fmt})
        assert export.status_code == 404, (fmt, export.text)
    overview = await outsider.get("/reports/overview", params={"from": period["from"], "to": period["to"]})
    assert overview.status_code == 200, overview.text
    assert ids["client_id"] not in overview.text and "Alcaldía de Sonsonate" not in overview.text


async def test_the_factelec_operators_api_is_for_admins_only(system: System) -> None:
    for method, path in routes(system, "factelec-sync"):
        for user in ("u-otro", "u-gerente", "u-carla"):
            response = await system.as_("factelec-sync", user).request(method, path)
            assert response.status_code == 403, (user, path, response.text)
        assert (await system.as_("factelec-sync", "u-admin").request(method, path)).status_code == 200, path


async def test_a_removal_from_the_access_list_reaches_the_tickets_service(system: System) -> None:
    ids = system.ids
    beto = system.as_("tickets", "u-beto")
    assert (await beto.get(f"/tickets/{ids['ticket_id']}")).status_code == 200
    removed = await system.as_("attentions", "u-ana").delete(f"/clients/{ids['client_id']}/access/u-beto")
    assert removed.status_code == 200, removed.text

    async def beto_sees() -> int:
        return (await beto.get(f"/tickets/{ids['ticket_id']}")).status_code

    await eventually(beto_sees, lambda s: s == 404, timeout=30, what="revocation projected in tickets")
    assert ids["ticket_id"] not in (await beto.get("/tickets")).text
    back = await system.as_("attentions", "u-admin").post(
        f"/clients/{ids['client_id']}/access", json={"user_id": "u-beto"}
    )
    assert back.status_code == 201, back.text
    await eventually(beto_sees, lambda s: s == 200, timeout=30, what="grant projected in tickets")

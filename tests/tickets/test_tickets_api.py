"""The TICKET menu over HTTP: filters, pagination, who sees what (404 otherwise), bad input as problem+json.

One service and one set of tickets for the module; the tickets are put in as the attentions service and
COMANDA would, through the topics.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from crm_contracts.events.clients import ClientAccessGranted, ClientAccessRevoked
from crm_contracts.events.tickets import TicketRequested
from eventually import eventually

pytestmark = pytest.mark.integration

TODAY = datetime.now(ZoneInfo("America/El_Salvador")).date()
PROBLEM = "application/problem+json"


@dataclass
class Seed:
    stack: Any
    tickets: dict[str, TicketRequested] = field(default_factory=dict)
    clients: dict[str, uuid.UUID] = field(default_factory=dict)

    def id(self, name: str) -> str:
        return str(self.tickets[name].ticket_id)

    def names(self, body: dict[str, Any]) -> set[str]:
        by_id = {str(t.ticket_id): name for name, t in self.tickets.items()}
        return {by_id[item["id"]] for item in body["items"]}


@pytest.fixture(scope="module")
async def seed(shared_stack: Any, make_request: Any, make_person: Any) -> AsyncIterator[Seed]:
    person, ticket_request = make_person, make_request
    s = Seed(shared_stack)
    c1, c2, c3 = (uuid.uuid4() for _ in range(3))
    s.clients = {"c1": c1, "c2": c2, "c3": c3}
    ana, bob, dan, eve = (
        person("u-ana", "Comercial"),
        person("u-bob", "Gerencia Técnica"),
        person("u-dan", "Comercial"),
        person("u-eve", "Jurídico"),
    )

    def day(offset: int) -> date:
        return TODAY + timedelta(days=offset)

    s.tickets = {
        "t1": ticket_request(client_id=c1, responsible=ana, due_date=day(-5), code="TCK-T1"),
        "t2": ticket_request(client_id=c1, responsible=ana, due_date=day(5), code="TCK-T2"),
        "t3": ticket_request(
            client_id=c2, responsible=bob, cc=[person("u-carla")], due_date=day(10), code="TCK-T3"
        ),
        "t4": ticket_request(nic="3001", responsible=bob, due_date=day(-3), code="TCK-T4"),
        "t5": ticket_request(nic="3002", responsible=dan, due_date=day(1), code="TCK-T5"),
    }
    for i in range(7):
        s.tickets[f"e{i}"] = ticket_request(
            client_id=c3, responsible=eve, due_date=day(20 + i), code=f"TCK-E{i}"
        )
    await shared_stack.attentions.publish(
        *s.tickets.values(),
        ClientAccessGranted(client_id=c1, user_id="u-frank", granted_by="u-admin"),
        ClientAccessGranted(client_id=c3, user_id="u-hugo", granted_by="u-admin"),
    )
    async with shared_stack.simulator() as comanda:
        for name in ("t3", "t4"):
            await comanda.publish(s.tickets[name].ticket_id, "closed", sequence=1, resolution=f"{name} listo")
    await eventually(
        shared_stack.db.counter(
            "SELECT count(*) FILTER (WHERE status = 'closed') * 100 + count(*) FROM tickets"
        ),
        lambda n: n == 212,
        what="12 tickets, 2 closed",
    )
    await eventually(shared_stack.db.counter("SELECT count(*) FROM client_access"), lambda n: n == 2)
    yield s


@pytest.fixture
def get(seed: Seed, auth: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    async def call(path: str, user: str = "u-admin", *roles: str, **params: Any) -> Any:
        headers = auth(user, *(roles or (("admin",) if user == "u-admin" else ("agent",))))
        return await seed.stack.client.get(path, headers=headers, params=params)

    return call


async def test_an_admin_lists_every_ticket_by_due_date(seed: Seed, get: Any) -> None:
    response = await get("/tickets")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 12 and len(body["items"]) == 12
    dues = [item["due_date"] for item in body["items"]]
    assert dues == sorted(dues)
    first = body["items"][0]
    assert (first["code"], first["overdue"], first["status"]) == ("TCK-T1", True, "assigned")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "closed"}, {"t3", "t4"}),
        ({"status": ["closed", "assigned"], "responsible": "u-bob"}, {"t3", "t4"}),
        ({"responsible": "u-ana"}, {"t1", "t2"}),
        ({"area": "gerencia técnica"}, {"t3", "t4"}),
        ({"overdue": "true"}, {"t1"}),
        ({"client_id": "c1"}, {"t1", "t2"}),
        ({"nic": "3001"}, {"t4"}),
        ({"code": "TCK-T5"}, {"t5"}),
        ({"due_from": -5, "due_to": 1}, {"t1", "t4", "t5"}),
        ({"due_from": 10, "due_to": 20, "status": "closed"}, {"t3"}),
    ],
    ids=[
        "status",
        "statuses+responsible",
        "responsible",
        "area",
        "overdue",
        "client",
        "nic",
        "code",
        "due",
        "mix",
    ],
)
async def test_filters(seed: Seed, get: Any, params: dict[str, Any], expected: set[str]) -> None:
    for name in ("due_from", "due_to"):
        if name in params:
            params[name] = (TODAY + timedelta(days=params[name])).isoformat()
    if "client_id" in params:
        params["client_id"] = str(seed.clients[params["client_id"]])
    body = (await get("/tickets", **params)).json()
    assert seed.names(body) == expected
    assert body["total"] == len(expected)


async def test_not_overdue_is_every_other_ticket(seed: Seed, get: Any) -> None:
    body = (await get("/tickets", overdue="false", limit=200)).json()
    assert body["total"] == 11 and "t1" not in seed.names(body)


async def test_pages_cover_the_list_once(seed: Seed, get: Any) -> None:
    pages = [(await get("/tickets", responsible="u-eve", limit=3, offset=o)).json() for o in (0, 3, 6, 9)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1, 0]
    assert {p["total"] for p in pages} == {7}
    codes = [item["code"] for p in pages for item in p["items"]]
    assert codes == [f"TCK-E{i}" for i in range(7)]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("u-ana", {"t1", "t2", "t4", "t5"}),  # responsible of t1, t2; supply points are everyone's
        ("u-carla", {"t3", "t4", "t5"}),  # in copy of t3
        ("u-frank", {"t1", "t2", "t4", "t5"}),  # on client c1's access list
        ("u-gina", {"t4", "t5"}),  # nothing but supply points
    ],
)
async def test_a_user_sees_own_copied_accessible_and_supply_point_tickets(
    seed: Seed, get: Any, user: str, expected: set[str]
) -> None:
    assert seed.names((await get("/tickets", user, limit=200)).json()) == expected
    for name in seed.tickets:
        response = await get(f"/tickets/{seed.id(name)}", user)
        assert response.status_code == (200 if name in expected else 404), (user, name)
        if response.status_code == 404:
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["title"] == "Not found"


async def test_a_revoked_user_stops_seeing_the_clients_tickets(seed: Seed, get: Any) -> None:
    assert (await get(f"/tickets/{seed.id('e0')}", "u-hugo")).status_code == 200
    await seed.stack.attentions.publish(
        ClientAccessRevoked(client_id=seed.clients["c3"], user_id="u-hugo", revoked_by="u-admin")
    )

    async def status() -> int:
        return int((await get(f"/tickets/{seed.id('e0')}", "u-hugo")).status_code)

    await eventually(status, lambda code: code == 404, what="access revoked")
    assert (await get("/tickets", "u-hugo", client_id=str(seed.clients["c3"]))).json()["total"] == 0


async def test_detail_links_the_event_and_attention_and_shows_the_history(seed: Seed, get: Any) -> None:
    request = seed.tickets["t3"]
    body = (await get(f"/tickets/{seed.id('t3')}")).json()
    assert body["event"] == {
        "id": str(request.event_id),
        "code": request.event_code,
        "title": request.event_title,
        "internal_commitment_date": request.event_internal_commitment_date.isoformat(),
    }
    assert body["attention"] == {"id": str(request.attention_id), "code": request.attention_code}
    assert body["responsible"]["area"] == "Gerencia Técnica"
    assert [p["user_id"] for p in body["cc"]] == ["u-carla"]
    assert body["subject"]["client_id"] == str(request.subject.client_id)
    assert (body["status"], body["resolution"], body["overdue"]) == ("closed", "t3 listo", False)
    assert [(h["sequence"], h["from_status"], h["to_status"]) for h in body["history"]] == [
        (0, None, "assigned"),
        (1, "assigned", "closed"),
    ]
    assert body["work_orders"] == []


@pytest.mark.parametrize(
    ("path", "params", "status", "field", "rule"),
    [
        ("/tickets/not-a-uuid", {}, 422, "ticket_id", "uuid_parsing"),
        ("/tickets", {"status": "done"}, 422, "status.0", "literal_error"),
        ("/tickets", {"limit": 1000}, 422, "limit", "less_than_equal"),
        ("/tickets", {"overdue": "maybe"}, 422, "overdue", "bool_parsing"),
        ("/tickets", {"due_from": "2026-13-01"}, 422, "due_from", "date_from_datetime_parsing"),
        ("/tickets", {"due_from": "2026-03-10", "due_to": "2026-03-01"}, 422, "due_from", "range_order"),
        (f"/tickets/{uuid.uuid4()}", {}, 404, None, None),
    ],
    ids=["bad-id", "bad-status", "limit", "bad-bool", "bad-date", "range", "unknown"],
)
async def test_bad_input_is_a_problem_naming_the_field_and_rule(
    seed: Seed, get: Any, path: str, params: dict[str, Any], status: int, field: str | None, rule: str | None
) -> None:
    response = await get(path, **params)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert body["errors"][0]["field"] == field
        assert body["errors"][0]["rule"].startswith(rule)


async def test_callers_without_a_token_or_a_staff_role_are_refused(seed: Seed, auth: Any) -> None:
    http = seed.stack.client
    response = await http.get("/tickets")
    assert (response.status_code, response.json()["errors"][0]["rule"]) == (401, "token_missing")
    response = await http.get("/tickets", headers=auth("u-x", "guest"))
    assert (response.status_code, response.headers["content-type"]) == (403, PROBLEM)
    response = await http.post("/tickets", headers=auth("u-admin", "admin"), json={})
    assert response.status_code == 405, "tickets are never created or closed here"

"""Technical work orders over HTTP: workflow, permissions, audit trail, events and the printable PDF."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from crm_contracts.events.tickets import TicketRequested
from eventually import eventually
from kit.helpers import read_topic
from pypdf import PdfReader

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
MANAGER = ("u-gt", "technical_manager")
CREATOR = ("u-creator", "agent")
RESPONSIBLE = ("u-tech", "agent")


@pytest.fixture
async def ticket(shared_stack: Any, make_request: Any, make_person: Any) -> TicketRequested:
    """A fresh supply-point ticket of the technical department (every staff member sees it)."""
    request: TicketRequested = make_request(
        nic="3012345", responsible=make_person("u-tech", "Gerencia Técnica")
    )
    await shared_stack.attentions.publish(request)
    await eventually(
        shared_stack.db.counter("SELECT count(*) FROM tickets WHERE id = $1", request.ticket_id),
        lambda n: n == 1,
        what="the ticket",
    )
    return request


@pytest.fixture
def call(shared_stack: Any, auth: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    async def request(method: str, path: str, who: tuple[str, ...], body: Any = None, **params: Any) -> Any:
        return await shared_stack.client.request(method, path, headers=auth(*who), json=body, params=params)

    return request


def order_body(ticket: TicketRequested, **overrides: Any) -> dict[str, Any]:
    return {
        "ticket_id": str(ticket.ticket_id),
        "work_type": "meter_change",
        "nic": "3012345",
        "address": "Colonia Centro, Sonsonate",
        "description": "Cambiar el medidor dañado por uno nuevo",
        "requested_date": "2026-03-20",
        "crew_notes": "Llevar medidor bifásico",
        **overrides,
    }


async def create(call: Any, ticket: TicketRequested, who: tuple[str, ...] = CREATOR, **overrides: Any) -> Any:
    response = await call("POST", "/work-orders", who, order_body(ticket, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def move(call: Any, order: dict[str, Any], action: str, who: tuple[str, ...], **body: Any) -> Any:
    return await call("POST", f"/work-orders/{order['id']}/{action}", who, body or None)


def rule_of(response: Any) -> tuple[int, str | None, str]:
    assert response.headers["content-type"] == PROBLEM
    error = response.json()["errors"][0]
    return response.status_code, error.get("field"), error["rule"]


async def test_a_work_order_goes_from_draft_to_completed_audited_and_published(
    shared_stack: Any, call: Any, ticket: TicketRequested
) -> None:
    order = await create(call, ticket)
    assert (order["status"], order["code"][:3], order["area"]) == ("draft", "OT-", "Gerencia Técnica")
    assert order["ticket"]["code"] == ticket.code

    assert (await move(call, order, "submit", CREATOR)).json()["status"] == "submitted"
    approved = (await move(call, order, "approve", MANAGER, comment="Procede")).json()
    assert approved["decision"]["by"]["user_id"] == "u-gt" and approved["decision"]["comment"] == "Procede"
    assert (await move(call, order, "start", RESPONSIBLE)).json()["status"] == "in_execution"
    done = await move(
        call, order, "complete", RESPONSIBLE, completion_report="Medidor instalado, sellos 1234"
    )
    assert done.status_code == 200
    body = done.json()
    assert (body["status"], body["completion_report"]) == ("completed", "Medidor instalado, sellos 1234")

    trail = [
        (a["transition"], a["from_status"], a["to_status"], a["actor"]["user_id"]) for a in body["audit"]
    ]
    assert trail == [
        ("created", None, "draft", "u-creator"),
        ("submitted", "draft", "submitted", "u-creator"),
        ("approved", "submitted", "approved", "u-gt"),
        ("started", "approved", "in_execution", "u-tech"),
        ("completed", "in_execution", "completed", "u-tech"),
    ]
    assert body["audit"][2]["comment"] == "Procede"

    records = await read_topic(shared_stack.settings, "tickets.work-orders.v1", expect=5)
    mine = [json.loads(r.value)["data"] for r in records if r.key == order["id"].encode()]
    assert [(e["transition"], e["previous_status"], e["status"]) for e in mine] == [
        (t, f, s) for t, f, s, _ in trail
    ]
    assert mine[-1]["completion_report"] == "Medidor instalado, sellos 1234"
    detail = (await call("GET", f"/tickets/{ticket.ticket_id}", ("u-admin", "admin"))).json()
    assert [w["code"] for w in detail["work_orders"]] == [order["code"]]


@pytest.mark.parametrize("who", [CREATOR, RESPONSIBLE, ("u-admin", "admin")], ids=lambda w: w[0])
async def test_only_a_technical_manager_may_approve(
    call: Any, ticket: TicketRequested, who: tuple[str, ...]
) -> None:
    order = await create(call, ticket)
    await move(call, order, "submit", CREATOR)
    assert rule_of(await move(call, order, "approve", who, comment="ok")) == (403, "roles", "role_required")
    assert rule_of(await move(call, order, "reject", who, comment="no")) == (403, "roles", "role_required")
    current = (await call("GET", f"/work-orders/{order['id']}", MANAGER)).json()
    assert current["status"] == "submitted" and len(current["audit"]) == 2


async def test_execution_before_approval_is_refused_naming_the_rule(
    shared_stack: Any, call: Any, ticket: TicketRequested
) -> None:
    order = await create(call, ticket)
    assert rule_of(await move(call, order, "start", MANAGER)) == (409, "status", "approval_required")
    await move(call, order, "submit", CREATOR)
    response = await move(call, order, "start", RESPONSIBLE)
    assert rule_of(response) == (409, "status", "approval_required")
    assert "impossible before approval" in response.json()["detail"]
    # Nothing was written by the refused requests: no audit row, no event.
    current = (await call("GET", f"/work-orders/{order['id']}", MANAGER)).json()
    assert current["status"] == "submitted" and len(current["audit"]) == 2
    events = await shared_stack.db.val(
        "SELECT count(*) FROM kit_outbox WHERE partition_key = $1", order["id"]
    )
    assert events == 2


async def test_a_rejection_needs_a_comment_and_ends_the_order(call: Any, ticket: TicketRequested) -> None:
    order = await create(call, ticket)
    await move(call, order, "submit", CREATOR)
    assert rule_of(await move(call, order, "reject", MANAGER)) == (422, "comment", "comment_required")
    rejected = await move(call, order, "reject", MANAGER, comment="Falta el croquis")
    assert rejected.json()["decision"]["comment"] == "Falta el croquis"
    assert rule_of(await move(call, order, "start", MANAGER)) == (409, "status", "invalid_transition")
    assert (
        rule_of(await move(call, order, "complete", MANAGER, completion_report="x"))[2]
        == "invalid_transition"
    )


async def test_the_pdf_of_an_approved_order_is_printable_for_the_crew(
    call: Any, ticket: TicketRequested
) -> None:
    order = await create(call, ticket)
    assert rule_of(await call("GET", f"/work-orders/{order['id']}/pdf", CREATOR)) == (
        409,
        "status",
        "approval_required",
    )
    await move(call, order, "submit", CREATOR)
    await move(call, order, "approve", MANAGER, comment="Autorizada")
    response = await call("GET", f"/work-orders/{order['id']}/pdf", RESPONSIBLE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        order["code"],
        "ORDEN DE TRABAJO TÉCNICA",
        "Cambio de medidor",
        ticket.code,
        "Autorizada",
    ):
        assert expected in text, expected
    assert reader.metadata is not None and order["code"] in (reader.metadata.title or "")


@pytest.mark.parametrize(
    ("overrides", "status", "field", "rule"),
    [
        ({"nic": None, "address": None}, 422, "location", "location_required"),
        ({"ticket_id": str(uuid.uuid4())}, 422, "ticket_id", "unknown_ticket"),
        ({"work_type": "painting"}, 422, "work_type", "literal_error"),
        ({"description": "   "}, 422, "description", "string_too_short"),
        ({"requested_date": "mañana"}, 422, "requested_date", "date_from_datetime_parsing"),
        ({"priority": "high"}, 422, "priority", "extra_forbidden"),
    ],
    ids=["no-location", "unknown-ticket", "work-type", "blank", "date", "extra"],
)
async def test_bad_work_orders_are_problems_naming_the_field_and_rule(
    call: Any, ticket: TicketRequested, overrides: dict[str, Any], status: int, field: str, rule: str
) -> None:
    response = await call("POST", "/work-orders", CREATOR, order_body(ticket, **overrides))
    code, named, broken = rule_of(response)
    assert (code, named) == (status, field) and broken.startswith(rule)


async def test_work_orders_hang_only_on_open_tickets_of_the_technical_department(
    shared_stack: Any, call: Any, make_request: Any, make_person: Any
) -> None:
    commercial: TicketRequested = make_request(nic="3000001", responsible=make_person("u-com", "Comercial"))
    closed: TicketRequested = make_request(
        nic="3000002", responsible=make_person("u-tech", "Gerencia Técnica")
    )
    await shared_stack.attentions.publish(commercial, closed)
    async with shared_stack.simulator() as comanda:
        await comanda.publish(closed.ticket_id, "closed", sequence=1, resolution="ya resuelto")
    await eventually(
        shared_stack.db.counter(
            "SELECT count(*) FROM tickets WHERE id = $1 OR (id = $2 AND status = 'closed')",
            commercial.ticket_id,
            closed.ticket_id,
        ),
        lambda n: n == 2,
    )
    response = await call("POST", "/work-orders", CREATOR, order_body(commercial))
    assert rule_of(response) == (422, "ticket_id", "ticket_not_technical")
    response = await call("POST", "/work-orders", CREATOR, order_body(closed))
    assert rule_of(response) == (409, "ticket_id", "ticket_closed")


async def test_only_a_draft_is_edited_and_only_by_its_creator_or_a_manager(
    call: Any, ticket: TicketRequested
) -> None:
    order = await create(call, ticket)
    path = f"/work-orders/{order['id']}"
    edited = await call("PATCH", path, CREATOR, {"crew_notes": "Llevar escalera", "work_type": "inspection"})
    assert (edited.json()["crew_notes"], edited.json()["work_type"]) == ("Llevar escalera", "inspection")
    assert edited.json()["audit"][-1]["transition"] == "updated"
    assert rule_of(await call("PATCH", path, ("u-other", "agent"), {"crew_notes": "x"}))[0] == 403
    assert (
        rule_of(await call("PATCH", path, CREATOR, {"nic": None, "address": None}))[2] == "location_required"
    )
    assert rule_of(await call("PATCH", path, CREATOR, {"description": None}))[2] == "required"
    await move(call, order, "submit", CREATOR)
    assert rule_of(await call("PATCH", path, CREATOR, {"crew_notes": "y"})) == (409, "status", "not_a_draft")


async def test_list_filters_and_who_sees_which_orders(
    shared_stack: Any, call: Any, make_request: Any, make_person: Any
) -> None:
    private: TicketRequested = make_request(
        client_id=uuid.uuid4(), responsible=make_person("u-tech2", "Gerencia Técnica")
    )
    public: TicketRequested = make_request(
        nic="3999999", responsible=make_person("u-tech2", "Gerencia Técnica")
    )
    await shared_stack.attentions.publish(private, public)
    await eventually(
        shared_stack.db.counter(
            "SELECT count(*) FROM tickets WHERE id = ANY($1::uuid[])", [private.ticket_id, public.ticket_id]
        ),
        lambda n: n == 2,
    )
    who = ("u-tech2", "agent")
    a = await create(call, private, who, work_type="inspection", requested_date="2030-01-10")
    b = await create(call, public, who, work_type="reconnection", requested_date="2030-01-20")
    await move(call, b, "submit", who)

    async def codes(caller: tuple[str, ...], **params: Any) -> list[str]:
        response = await call("GET", "/work-orders", caller, **params)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    window = {"requested_from": "2030-01-01", "requested_to": "2030-01-31"}
    assert await codes(MANAGER, **window) == [b["code"], a["code"]]  # newest requested first
    assert await codes(MANAGER, status="submitted", **window) == [b["code"]]
    assert await codes(MANAGER, work_type=["inspection", "other"], **window) == [a["code"]]
    assert await codes(MANAGER, requested_to="2030-01-15", requested_from="2030-01-01") == [a["code"]]
    assert await codes(MANAGER, area="GERENCIA TÉCNICA", **window) == [b["code"], a["code"]]
    assert await codes(MANAGER, area="Comercial", **window) == []
    # An agent with no access to the private ticket's client sees only the supply-point one.
    assert await codes(("u-someone", "agent"), **window) == [b["code"]]
    response = await call("GET", f"/work-orders/{a['id']}", ("u-someone", "agent"))
    assert response.status_code == 404
    response = await call(
        "GET", "/work-orders", MANAGER, requested_from="2030-02-01", requested_to="2030-01-01"
    )
    assert rule_of(response) == (422, "requested_from", "range_order")

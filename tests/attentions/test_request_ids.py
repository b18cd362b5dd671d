"""The chassis's request id (crmkit.http.CorrelateAndMeasure): echoed to the caller, carried into the events
the request causes, and the request measured under its route."""

from __future__ import annotations

import uuid

import pytest
from atn_support import create_client
from crmkit import metrics

pytestmark = pytest.mark.integration


async def test_a_given_request_id_is_echoed_and_becomes_the_correlation_of_the_events(service):
    ana = service.as_("u-ana")
    rid = uuid.uuid4()
    body = {"kind": "prospect", "name": "Textiles del Pacífico"}
    response = await ana.post("/clients", json=body, headers={"X-Request-ID": str(rid)})
    assert response.status_code == 201, response.text
    assert response.headers.get_list("x-request-id") == [str(rid)]
    correlations = await service.fetch(
        "SELECT DISTINCT correlation_id FROM kit_outbox WHERE partition_key = $1",
        response.json()["client_id"],
    )
    assert correlations == [{"correlation_id": rid}]


async def test_without_a_request_id_one_is_made_and_a_foreign_one_is_kept_as_sent(service):
    ana = service.as_("u-ana")
    made = await ana.get("/clients")
    assert uuid.UUID(made.headers["x-request-id"])
    foreign = await ana.get("/clients", headers={"X-Request-ID": "gw-7f3a"})
    assert foreign.headers.get_list("x-request-id") == ["gw-7f3a"]
    await create_client(ana)  # the same id is not reused: each request has its own


async def test_requests_are_measured_under_their_route_and_status(service):
    def count(path: str, status: str) -> float:
        value = metrics.HTTP_LATENCY.labels("GET", path, status)._sum.get()
        return float(value)

    ana = service.as_("u-ana")
    before_ok, before_missing = count("/clients/{client_id}", "200"), count("/clients/{client_id}", "404")
    client = await create_client(ana)
    assert (await ana.get(f"/clients/{client['client_id']}")).status_code == 200
    assert (await ana.get(f"/clients/{uuid.uuid4()}")).status_code == 404
    assert count("/clients/{client_id}", "200") > before_ok
    assert count("/clients/{client_id}", "404") > before_missing

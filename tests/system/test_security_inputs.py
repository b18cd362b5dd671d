"""Hostile numbers and text in query and path parameters, found by the OpenAPI fuzzing: a 4xx problem,
never a 500 (the fuzz tier finds these; these tests keep them found)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from system.fuzz_support import System, running_system

pytestmark = pytest.mark.integration

API_ONLY = {"attentions": {"api"}, "tickets": {"api"}, "notifications": {"api"}, "factelec-sync": {"api"}}
BEYOND_BIGINT = [str(2**63), str(2**70), str(-(2**70))]


@pytest.fixture(scope="module")
async def system(infra) -> AsyncIterator[System]:
    async with running_system(infra, services=tuple(API_ONLY), parts=API_ONLY) as system:
        yield system


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.request.url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("attentions", "/staff"),
        ("attentions", "/clients"),
        ("attentions", "/supply-points"),
        ("attentions", "/attentions"),
        ("attentions", "/events"),
        ("tickets", "/tickets"),
        ("tickets", "/work-orders"),
        ("factelec-sync", "/quarantine"),
    ],
)
async def test_page_offsets_beyond_bigint_are_refused_not_a_500(
    system: System, service: str, path: str
) -> None:
    http = system.as_(service, "u-admin")
    for offset in BEYOND_BIGINT:
        body = problem(await http.get(path, params={"offset": offset}), 422)
        assert {e["field"] for e in body["errors"]} == {"offset"}
    assert (await http.get(path, params={"offset": "1000000"})).status_code == 200


async def test_run_ids_beyond_bigint_are_refused_not_a_500(system: System) -> None:
    http = system.as_("factelec-sync", "u-admin")
    for run_id in [*BEYOND_BIGINT, "0", "-1"]:
        body = problem(await http.get(f"/runs/{run_id}"), 422)
        assert {e["field"] for e in body["errors"]} == {"run_id"}
    problem(await http.get(f"/runs/{2**63 - 1}"), 404)


async def test_instants_outside_years_1_to_9999_in_utc_are_refused_not_a_500(system: System) -> None:
    """``0001-01-01T00:00:00+00:09`` is aware and valid but before year 1 in UTC."""
    ana = system.as_("attentions", "u-ana")
    client = (await ana.post("/clients", json={"kind": "prospect", "name": "Cliente de prueba"})).json()
    for moment in ("0001-01-01T00:00:00+00:09", "9999-12-31T23:59:59-05:00"):
        body = {"channel": "web", "subject": "x", "happened_at": moment}
        answer = problem(await ana.post(f"/clients/{client['client_id']}/attentions", json=body), 422)
        assert {e["field"] for e in answer["errors"]} == {"happened_at"}
        answer = problem(await ana.get("/attentions", params={"happened_from": moment}), 422)
        assert {e["field"] for e in answer["errors"]} == {"happened_from"}
        cursor = f"{moment}~{'0' * 8}-0000-0000-0000-{'0' * 12}"
        answer = problem(
            await system.as_("notifications", "u-admin").get("/messages", params={"cursor": cursor}), 422
        )
        assert {e["field"] for e in answer["errors"]} == {"cursor"}
    body = {"channel": "web", "subject": "x", "happened_at": "0001-01-03T00:00:00+00:00"}
    assert (await ana.post(f"/clients/{client['client_id']}/attentions", json=body)).status_code == 201

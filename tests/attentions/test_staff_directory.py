"""The staff directory: admin CRUD, CSV import, StaffMemberUpserted through the outbox."""

from __future__ import annotations

import json

import pytest
from atn_support import problem, rules

pytestmark = pytest.mark.integration


async def outbox_events(service, event_type: str) -> list[dict]:
    rows = await service.fetch("SELECT value FROM kit_outbox WHERE event_type = $1 ORDER BY id", event_type)
    return [json.loads(r["value"]) for r in rows]


async def test_csv_import_fills_the_directory_and_publishes_each_member(service):
    listed = (await service.as_("u-ana").get("/staff", params={"limit": 100})).json()
    assert listed["total"] == 6
    events = await outbox_events(service, "attentions.staff_member.upserted")
    assert {e["data"]["user_id"] for e in events} == {i["user_id"] for i in listed["items"]}
    ana = next(e["data"] for e in events if e["data"]["user_id"] == "u-ana")
    assert ana == {
        "user_id": "u-ana",
        "name": "Ana Agente",
        "email": "ana.agente@edesal.test",
        "area": "Atención al Cliente",
        "manager_id": "u-gerente",
        "roles": ["agent"],
        "active": True,
    }


async def test_reimporting_the_same_csv_changes_and_publishes_nothing(service):
    from atn_support import STAFF_CSV

    before = await service.counts()
    response = await service.admin.post(
        "/staff/import", files={"file": ("s.csv", STAFF_CSV.encode(), "text/csv")}
    )
    assert response.json() == {"imported": 6, "created": 0, "updated": 0, "unchanged": 6}
    assert await service.counts() == before


async def test_admin_creates_updates_and_deactivates_a_member(service):
    admin = service.admin
    body = {
        "user_id": "u-nuevo",
        "name": "Nuevo",
        "email": "nuevo@edesal.test",
        "area": "Comercial",
        "manager_id": "u-beto",
        "roles": ["agent"],
    }
    created = await admin.post("/staff", json=body)
    assert created.status_code == 201 and created.json()["active"] is True
    assert rules(problem(await admin.post("/staff", json=body), 409)) == {("user_id", "unique")}

    patched = await admin.patch(
        "/staff/u-nuevo", json={"area": "Gerencia Técnica", "roles": ["technical_manager"]}
    )
    assert patched.json()["area"] == "Gerencia Técnica" and patched.json()["roles"] == ["technical_manager"]
    deactivated = await admin.delete("/staff/u-nuevo")
    assert deactivated.json()["active"] is False
    events = [
        e["data"]
        for e in await outbox_events(service, "attentions.staff_member.upserted")
        if e["data"]["user_id"] == "u-nuevo"
    ]
    assert [(e["area"], e["active"]) for e in events] == [
        ("Comercial", True),
        ("Gerencia Técnica", True),
        ("Gerencia Técnica", False),
    ]
    history = (await admin.get("/audit/staff/u-nuevo")).json()["entries"]
    assert [h["action"] for h in history] == ["created", "updated", "updated"]
    assert history[1]["before"]["area"] == "Comercial" and history[1]["after"]["area"] == "Gerencia Técnica"
    assert (await service.as_("u-ana").get("/audit/staff/u-nuevo")).status_code == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "X", "email": "x@e.test", "area": "A"}, {("user_id", "missing")}),
        ({"user_id": "u-x", "name": "X", "email": "no-at-sign", "area": "A"}, {("email", "email_format")}),
        (
            {"user_id": "u-x", "name": "X", "email": "x@e.test", "area": "A", "roles": ["root"]},
            {("roles", "known_roles")},
        ),
        (
            {"user_id": "u-x", "name": "X", "email": "x@e.test", "area": "A", "manager_id": "u-ghost"},
            {("manager_id", "manager_exists")},
        ),
        (
            {"user_id": "u-x", "name": "X", "email": "x@e.test", "area": "A", "manager_id": "u-x"},
            {("manager_id", "not_self")},
        ),
    ],
    ids=["missing-user-id", "bad-email", "unknown-role", "unknown-manager", "own-manager"],
)
async def test_bad_members_are_refused_naming_field_and_rule(service, body, expected):
    before = await service.counts()
    assert rules(problem(await service.admin.post("/staff", json=body), 422)) == expected
    assert await service.counts() == before


async def test_a_manager_loop_is_refused(service):
    before = await service.counts()
    # u-gerente reports to u-admin; making u-admin report to u-ana (who reports to u-gerente) loops
    response = await service.admin.patch("/staff/u-admin", json={"manager_id": "u-ana"})
    assert ("manager_id", "no_manager_cycle") in rules(problem(response, 422))
    assert await service.counts() == before
    response = await service.admin.patch("/staff/u-ana", json={"name": None})
    assert rules(problem(response, 422)) == {("name", "required")}


async def test_a_broken_csv_writes_nothing_and_names_each_row(service):
    before = await service.counts()
    csv = (
        "user_id,name,email,area,manager_id,roles\nu-z,Zeta,zeta@e.test,Comercial,u-ghost,agent\nu-y,,y,A,,\n"
    )
    response = await service.admin.post("/staff/import", files={"file": ("s.csv", csv.encode(), "text/csv")})
    assert rules(problem(response, 422)) == {("rows[2].name", "required"), ("rows[2].email", "email_format")}
    csv = "user_id,name,email,area,manager_id,roles\nu-z,Zeta,zeta@e.test,Comercial,u-ghost,agent\n"
    response = await service.admin.post("/staff/import", files={"file": ("s.csv", csv.encode(), "text/csv")})
    assert rules(problem(response, 422)) == {("rows[1].manager_id", "manager_exists")}
    assert await service.counts() == before


async def test_staff_search_filters_by_text_area_role_and_active(service):
    http = service.as_("u-ana")
    names = lambda r: {i["user_id"] for i in r.json()["items"]}  # noqa: E731
    assert names(await http.get("/staff", params={"q": "beto"})) == {"u-beto"}
    assert names(await http.get("/staff", params={"area": "Gerencia Técnica"})) == {"u-gerente", "u-carla"}
    assert names(await http.get("/staff", params={"role": "admin"})) == {"u-admin"}
    assert names(await http.get("/staff", params={"active": "false"})) == {"u-old"}
    assert (await http.get("/staff/u-carla")).json()["manager_id"] == "u-gerente"
    assert problem(await http.get("/staff/u-ghost"), 404)

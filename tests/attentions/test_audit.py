"""The audit trail: who, when, before and after, per object, behind the object's access check."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from atn_support import create_attention, create_client, create_event, problem, rules, seed_supply_point

pytestmark = pytest.mark.integration


async def test_every_change_is_recorded_with_actor_time_and_snapshots(service):
    ana, beto = service.as_("u-ana"), service.as_("u-beto")
    client = await create_client(ana, access_user_ids=["u-beto"])
    attention = await create_attention(beto, client["client_id"])
    event = await create_event(beto, attention["attention_id"])
    await ana.post(f"/events/{event['event_id']}/close", json={"note": "Sin tareas"})
    await ana.post(f"/attentions/{attention['attention_id']}/close", json={"note": "Resuelto"})

    entries = (await ana.get(f"/audit/attention/{attention['attention_id']}")).json()["entries"]
    assert [(e["action"], e["actor"]) for e in entries] == [("created", "u-beto"), ("closed", "u-ana")]
    assert entries[0]["before"] is None and entries[0]["after"]["code"] == attention["code"]
    assert (entries[1]["before"]["status"], entries[1]["after"]["status"]) == ("open", "closed")
    assert entries[1]["after"]["closing_note"] == "Resuelto"
    assert all(datetime.fromisoformat(e["at"]) for e in entries)
    event_entries = (await ana.get(f"/audit/event/{event['event_id']}")).json()["entries"]
    assert [e["action"] for e in event_entries] == ["created", "closed"]
    assert event_entries[1]["after"]["closing_note"] == "Sin tareas"


async def test_suministro_history_is_open_to_staff_and_unknown_objects_are_not_found(service):
    await seed_supply_point(service, "3012345")
    attention = (
        await service.as_("u-ana").post(
            "/supply-points/3012345/attentions",
            json={
                "channel": "web",
                "subject": "Consulta",
                "happened_at": "2026-03-01T08:00:00Z",
            },
        )
    ).json()
    beto = service.as_("u-beto")
    assert (await beto.get(f"/audit/attention/{attention['attention_id']}")).json()["entries"][0][
        "nic"
    ] == "3012345"
    assert problem(await beto.get(f"/audit/attention/{uuid.uuid4()}"), 404)
    assert rules(problem(await beto.get(f"/audit/invoice/{uuid.uuid4()}"), 422)) == {
        ("object_type", "literal_error")
    }

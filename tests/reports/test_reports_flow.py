"""Reports over a known history built through the real services: attentions API, tickets service, COMANDA
simulator, on the real broker and PostgreSQL. Every figure is checked against a hand-computed expectation.

The history (T is today in El Salvador; events and tickets are opened now, attentions when they happened):
client "Industrias del Pacífico" (prospect), created by u-atencion, access granted to u-tecnico.
  A1 letter  T-30 00:00  (first instant of the period)  open
  A2 email   T-31 23:59  (before the period)           open
  A3 phone   T-1  23:30  (last half hour of the day)    open
  A4 web     T    00:10  (first minutes of the next day for the period that ends on T-1)  open
  A5 phone   T-10 10:00  closed now (after its event E3)
  E1 on A1 (u-atencion) internal T+5, client T+10; ticket K1 (u-tecnico, due T+3) closed;
     E1 closed: both dates kept
  E2 on A1 (u-atencion) internal T-2, client T+1; ticket K2 (u-tecnico, due T-3) closed, then reopened;
     E2 open and overdue
  E3 on A5 (u-atencion) internal T-5, client T-1; no ticket; closed now: neither date kept
  E4 on A3 (u-tecnico)  internal T-4, client T+2; ticket K3 (u-atencion, due T-4) closed;
     E4 closed: the client date kept
suministro 3009001: A6 visit T-3 09:00 by u-otro (suministros are visible to all staff).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from crm_contracts.events.attentions import EventClosed, EventOpened
from crm_contracts.events.clients import ClientUpserted
from crm_contracts.events.common import Person, Subject
from crm_contracts.events.factelec import SupplyPointUpserted
from crm_contracts.events.tickets import TicketAssigned, TicketClosed, TicketReopened
from eventually import eventually
from reports.rebuild import rebuild
from reports.settings import Settings as ReportsSettings
from reports.store.projection import truncate
from rpt_support import Crm, assert_rollups_agree

pytestmark = pytest.mark.integration

SV = timezone(timedelta(hours=-6))
NIC = "3009001"


def local(day: date, hour: int, minute: int) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SV).isoformat()


def days(delta: int) -> str:
    return (TODAY + timedelta(days=delta)).isoformat()


TODAY = datetime.now(SV).date()
P = {"from": days(-30), "to": days(0)}
Q = {"from": days(-31), "to": days(-1)}


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def build_history(crm: Crm) -> dict[str, Any]:
    clerk, tech = crm.attentions("u-atencion"), crm.attentions("u-tecnico")
    client = await ok(
        await clerk.post("/clients", json={"kind": "prospect", "name": "Industrias del Pacífico"}), 201
    )
    cid = client["client_id"]
    await ok(await clerk.post(f"/clients/{cid}/access", json={"user_id": "u-tecnico"}), 201)

    async def attention(channel: str, when: str, path: str = f"/clients/{cid}", http: Any = clerk) -> Any:
        body = {"channel": channel, "subject": f"Atención por {channel}", "happened_at": when}
        return await ok(await http.post(f"{path}/attentions", json=body), 201)

    a = {
        "A1": await attention("letter", local(TODAY - timedelta(days=30), 0, 0)),
        "A2": await attention("email", local(TODAY - timedelta(days=31), 23, 59)),
        "A3": await attention("phone", local(TODAY - timedelta(days=1), 23, 30)),
        "A4": await attention("web", local(TODAY, 0, 10)),
        "A5": await attention("phone", local(TODAY - timedelta(days=10), 10, 0)),
    }

    async def event(http: Any, att: str, internal: int, client_date: int) -> Any:
        body = {
            "title": f"Evento de {att}",
            "internal_commitment_date": days(internal),
            "client_commitment_date": days(client_date),
        }
        return await ok(await http.post(f"/attentions/{a[att]['attention_id']}/events", json=body), 201)

    e = {
        "E1": await event(clerk, "A1", 5, 10),
        "E2": await event(clerk, "A1", -2, 1),
        "E3": await event(clerk, "A5", -5, -1),
        "E4": await event(tech, "A3", -4, 2),
    }

    async def ticket(http: Any, ev: str, responsible: str, due: int) -> str:
        body = {"responsibility": f"Tarea de {ev}", "due_date": days(due), "responsible_id": responsible}
        return str(
            (await ok(await http.post(f"/events/{e[ev]['event_id']}/tickets", json=body), 201))["ticket_id"]
        )

    k = {
        "K1": await ticket(clerk, "E1", "u-tecnico", 3),
        "K2": await ticket(clerk, "E2", "u-tecnico", -3),
        "K3": await ticket(tech, "E4", "u-atencion", -4),
    }
    async with crm.comanda() as comanda:
        for ticket_id in k.values():
            await comanda.wait_for(ticket_id)
            await comanda.accept(ticket_id)
        await comanda.close(k["K1"], "Hecho")
        await comanda.close(k["K2"], "Hecho")
        await comanda.close(k["K3"], "Hecho")
        await comanda.reopen(k["K2"], "El cliente reporta que sigue igual")

    async def close_event(name: str, http: Any) -> int:
        response = await http.post(f"/events/{e[name]['event_id']}/close", json={"note": "Listo"})
        return int(response.status_code)

    for name, http in (("E1", clerk), ("E3", clerk), ("E4", tech)):
        await eventually(
            lambda n=name, h=http: close_event(n, h), lambda code: code == 200, what=f"{name} closed"
        )
    closed_a5 = await ok(
        await clerk.post(f"/attentions/{a['A5']['attention_id']}/close", json={"note": "Fin"})
    )

    # The suministro comes from FACTELEC; the attentions service must know it before taking attentions on it.
    await crm.publish(
        SupplyPointUpserted(
            nic=NIC,
            holder="María Elena Castro",
            address="Col. Centro",
            municipality="Sonsonate",
            department="Sonsonate",
            tariff="T1-BT",
            connection_status="connected",
            source_updated_at=datetime(2026, 1, 5, tzinfo=SV),
        ),
        producer="factelec-sync",
    )
    other = crm.attentions("u-otro")
    await eventually(
        lambda: other.get(f"/supply-points/{NIC}"), lambda r: r.status_code == 200, what="NIC known"
    )
    a["A6"] = await attention("visit", local(TODAY - timedelta(days=3), 9, 0), f"/supply-points/{NIC}", other)

    admin = crm.reports("u-admin", "admin")

    async def settled() -> Any:
        r = await admin.get("/reports/subject", params={"client_id": cid, **P})
        if r.status_code != 200:
            return None
        s = r.json()["summary"]
        nic = await admin.get("/reports/subject", params={"nic": NIC, **P})
        return (
            s["attentions"]["opened"],
            s["attentions"]["closed"],
            s["events"]["opened"],
            s["events"]["closed"],
            s["tickets"]["opened"],
            s["tickets"]["closed"],
            s["tickets"]["reopened"],
            nic.status_code == 200 and nic.json()["summary"]["attentions"]["opened"],
            tuple(sorted((t["code"], t["status"]) for t in r.json()["tickets"])),
            tuple(sorted(x["registered_by_name"] or "" for x in r.json()["attentions"])),
        )

    await eventually(
        settled,
        lambda v: (
            v is not None
            and v[:8] == (4, 1, 4, 3, 3, 2, 1, 1)
            and "" not in v[9]
            and dict(v[8]).get(next(iter(dict(v[8])))) is not None
            and sorted(s for _, s in v[8]) == ["closed", "closed", "reopened"]
        ),
        timeout=60,
        what="the read model caught up",
    )
    return {"client": client, "a": a, "e": e, "k": k, "closed_a5": closed_a5}


@pytest.fixture(scope="module")
async def history(crm: Crm) -> dict[str, Any]:
    return await build_history(crm)


def codes(rows: list[dict[str, Any]]) -> set[str]:
    return {r["code"] for r in rows}


async def test_subject_report_counts_every_figure_with_period_bounds_and_a_reopened_ticket(
    crm: Crm, history: dict[str, Any]
) -> None:
    a, e, k = history["a"], history["e"], history["k"]
    tech = crm.reports("u-tecnico")
    report = await ok(
        await tech.get("/reports/subject", params={"client_id": history["client"]["client_id"], **P})
    )
    assert report["subject"]["kind"] == "client" and report["subject"]["client_kind"] == "prospect"
    assert report["period"] == {"from": P["from"], "to": P["to"], "timezone": "America/El_Salvador"}
    s = report["summary"]
    assert s["as_of"] == TODAY.isoformat()
    a5 = next(r for r in report["attentions"] if r["code"] == a["A5"]["code"])
    assert a5["status"] == "closed"
    closed = datetime.fromisoformat(history["closed_a5"]["closed_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(a5["closed_at"]) == closed
    happened = datetime(TODAY.year, TODAY.month, TODAY.day, 10, tzinfo=SV) - timedelta(days=10)
    assert s["attentions"] == {
        "opened": 4,  # A1 (first instant), A3, A4, A5; A2 happened the minute before the period
        "closed": 1,
        "open_at_end": 4,
        "overdue": 0,
        "avg_days_to_close": round((closed - happened).total_seconds() / 86400, 2),
    }
    assert s["events"] == {
        "opened": 4,
        "closed": 3,
        "open_at_end": 1,
        "overdue": 1,  # E2: internal date T-2 passed, still open (its ticket was reopened)
        "avg_days_to_close": 0.0,
        "internal_kept": 1,  # E1
        "client_kept": 2,  # E1, E4
        "internal_kept_rate": 0.3333,
        "client_kept_rate": 0.6667,
        "promise_kept_rate": 0.6667,
    }
    assert s["tickets"] == {
        "opened": 3,
        "closed": 2,  # K1, K3; K2 was closed in the period but reopened: it is open
        "open_at_end": 1,
        "overdue": 1,  # K2, due T-3
        "avg_days_to_close": 0.0,
        "reopened": 1,
        "reopens": 1,
    }
    assert codes(report["attentions"]) == {a[n]["code"] for n in ("A1", "A2", "A3", "A4", "A5")}
    events = {r["code"]: r for r in report["events"]}
    assert {
        c: (r["status"], r["overdue"], r["internal_kept"], r["client_kept"]) for c, r in events.items()
    } == {
        e["E1"]["code"]: ("closed", False, True, True),
        e["E2"]["code"]: ("open", True, None, None),
        e["E3"]["code"]: ("closed", False, False, False),
        e["E4"]["code"]: ("closed", False, False, True),
    }
    assert events[e["E4"]["code"]]["area"] == "Gerencia Técnica"
    tickets = {r["ticket_id"]: r for r in report["tickets"]}
    assert {
        t: (r["status"], r["reopens"], r["overdue"], r["responsible_name"]) for t, r in tickets.items()
    } == {
        k["K1"]: ("closed", 0, False, "Luis Hernández"),
        k["K2"]: ("reopened", 1, True, "Luis Hernández"),
        k["K3"]: ("closed", 0, False, "Carlos Rivas"),
    }
    assert tickets[k["K2"]]["closed_at"] is None
    weekly = report["charts"]["weekly"]
    assert weekly[0]["week_start"] <= P["from"] and weekly[-1]["week_start"] <= P["to"]
    assert sum(w["opened"] for w in weekly) == 4 + 4 + 3 and sum(w["closed"] for w in weekly) == 1 + 3 + 2
    this_week = weekly[-1]
    assert (this_week["events_opened"], this_week["tickets_closed"]) == (4, 2)

    # The period that ends yesterday: A3 (23:30) is in, A4 (00:10 the next day) is out; A2 is in now.
    earlier = await ok(
        await tech.get("/reports/subject", params={"client_id": history["client"]["client_id"], **Q})
    )
    assert codes(earlier["attentions"]) == {a[n]["code"] for n in ("A1", "A2", "A3", "A5")}
    assert earlier["summary"]["attentions"]["opened"] == 4
    assert earlier["summary"]["attentions"]["closed"] == 0  # A5 closed today, after this period
    assert earlier["summary"]["attentions"]["open_at_end"] == 4
    assert earlier["events"] == [] and earlier["tickets"] == []


async def test_overview_groups_by_area_responsible_channel_and_client_kind(
    crm: Crm, history: dict[str, Any]
) -> None:
    report = await ok(await crm.reports("u-admin", "admin").get("/reports/overview", params=P))
    assert report["summary"]["attentions"]["opened"] == 5
    assert report["summary"]["tickets"]["opened"] == 3 and report["summary"]["tickets"]["overdue"] == 1
    areas = {r["area"]: r for r in report["by_area"]}
    assert set(areas) == {"Gerencia Técnica", "Atención al Cliente"}
    technical, service = areas["Gerencia Técnica"], areas["Atención al Cliente"]
    assert {k: technical["tickets"][k] for k in ("opened", "closed", "open_at_end", "overdue")} == {
        "opened": 2,
        "closed": 1,
        "open_at_end": 1,
        "overdue": 1,
    }
    assert {k: service["tickets"][k] for k in ("opened", "closed", "open_at_end", "overdue")} == {
        "opened": 1,
        "closed": 1,
        "open_at_end": 0,
        "overdue": 0,
    }
    assert (technical["events"]["opened"], technical["events"]["closed"]) == (
        1,
        1,
    )  # E4, created by u-tecnico
    assert (technical["events"]["internal_kept_rate"], technical["events"]["client_kept_rate"]) == (0.0, 1.0)
    assert (service["events"]["opened"], service["events"]["closed"], service["events"]["overdue"]) == (
        3,
        2,
        1,
    )
    assert (service["events"]["internal_kept_rate"], service["events"]["client_kept_rate"]) == (0.5, 0.5)
    people = {
        r["user_id"]: (r["area"], r["opened"], r["closed"], r["open_at_end"], r["overdue"])
        for r in report["by_responsible"]
    }
    assert people == {
        "u-tecnico": ("Gerencia Técnica", 2, 1, 1, 1),
        "u-atencion": ("Atención al Cliente", 1, 1, 0, 0),
    }
    channels = {r["channel"]: (r["opened"], r["closed"], r["open_at_end"]) for r in report["by_channel"]}
    assert channels == {
        "email": (0, 0, 1),
        "letter": (1, 0, 1),
        "phone": (2, 1, 1),
        "visit": (1, 0, 1),
        "web": (1, 0, 1),
    }
    kinds = {r["client_kind"]: r for r in report["by_client_kind"]}
    assert set(kinds) == {"prospect", "supply_point"}
    assert [
        kinds["prospect"][f]
        for f in (
            "attentions_opened",
            "attentions_closed",
            "events_opened",
            "events_closed",
            "tickets_opened",
            "tickets_closed",
        )
    ] == [4, 1, 4, 3, 3, 2]
    assert (kinds["supply_point"]["attentions_opened"], kinds["supply_point"]["tickets_opened"]) == (1, 0)
    compliance = {c["area"]: c["client_kept_rate"] for c in report["charts"]["compliance_by_area"]}
    assert compliance == {"Gerencia Técnica": 1.0, "Atención al Cliente": 0.5}
    assert sum(w["opened"] for w in report["charts"]["weekly"]) == 5 + 4 + 3


async def test_someone_without_access_sees_nothing_of_the_client_but_sees_suministros(
    crm: Crm, history: dict[str, Any]
) -> None:
    cid = history["client"]["client_id"]
    outsider = crm.reports("u-otro")
    response = await outsider.get("/reports/subject", params={"client_id": cid, **P})
    assert response.status_code == 404 and response.headers["content-type"].startswith(
        "application/problem+json"
    )
    for fmt in ("csv", "xlsx", "pdf"):
        assert (
            await outsider.get("/reports/subject/export", params={"client_id": cid, "format": fmt, **P})
        ).status_code == 404
    overview = await ok(await outsider.get("/reports/overview", params=P))
    assert overview["by_area"] == [] and overview["by_responsible"] == []
    assert [(r["channel"], r["opened"]) for r in overview["by_channel"]] == [("visit", 1)]
    assert [r["client_kind"] for r in overview["by_client_kind"]] == ["supply_point"]
    point = await ok(await outsider.get("/reports/subject", params={"nic": NIC, **P}))
    assert point["subject"]["name"] == "María Elena Castro"
    assert point["summary"]["attentions"]["opened"] == 1
    assert (await outsider.get("/reports/subject", params={"nic": "0000000", **P})).status_code == 404

    # Revoked access stops the reports at once (after the event is consumed).
    clerk = crm.attentions("u-atencion")
    await ok(await clerk.post(f"/clients/{cid}/access", json={"user_id": "u-gtecnico"}), 201)
    manager = crm.reports("u-gtecnico", "technical_manager")
    await eventually(
        lambda: manager.get("/reports/subject", params={"client_id": cid, **P}),
        lambda r: r.status_code == 200,
        what="access granted",
    )
    response = await clerk.delete(f"/clients/{cid}/access/u-gtecnico")
    assert response.status_code == 200, response.text
    await eventually(
        lambda: manager.get("/reports/subject", params={"client_id": cid, **P}),
        lambda r: r.status_code == 404,
        what="access revoked",
    )


async def test_bad_periods_and_subjects_are_problems_naming_the_field(
    crm: Crm, history: dict[str, Any]
) -> None:
    admin = crm.reports("u-admin", "admin")
    cid = history["client"]["client_id"]
    cases = [
        ("/reports/subject", {"client_id": cid, "from": days(0), "to": days(-1)}, "to", "range_order"),
        ("/reports/overview", {"from": "2020-01-01", "to": "2026-01-01"}, "to", "period_too_long"),
        ("/reports/subject", {"client_id": cid, "nic": NIC, **P}, "client_id", "one_subject"),
        ("/reports/subject", {**P}, "client_id", "one_subject"),
        ("/reports/overview", {"from": "9999-12-01", "to": "9999-12-31"}, "from", "out_of_range"),
    ]
    for path, params, field, rule in cases:
        response = await admin.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert {(x["field"], x["rule"]) for x in response.json()["errors"]} == {(field, rule)}
    missing = await admin.get("/reports/overview", params={"to": days(0)})
    assert missing.status_code == 422 and "from" in str(missing.json()["errors"])
    bad_format = await admin.get("/reports/overview/export", params={**P, "format": "doc"})
    assert bad_format.status_code == 422


async def test_exports_carry_every_row_in_csv_xlsx_and_the_charts_in_pdf(
    crm: Crm, history: dict[str, Any]
) -> None:
    tech = crm.reports("u-tecnico")
    params = {"client_id": history["client"]["client_id"], **P}
    csv_response = await tech.get("/reports/subject/export", params={**params, "format": "csv"})
    assert csv_response.status_code == 200
    assert csv_response.headers["content-disposition"].startswith('attachment; filename="reporte-')
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Tipo,Código,Estado")
    assert len(lines) == 1 + 5 + 4 + 3
    assert sum(1 for line in lines if line.startswith("Ticket,") and ",Reabierto," in line) == 1

    xlsx = await tech.get("/reports/subject/export", params={**params, "format": "xlsx"})
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        detail = book.read("xl/worksheets/sheet2.xml").decode()
        summary = book.read("xl/worksheets/sheet1.xml").decode()
    assert all(history["e"][n]["code"] in detail for n in ("E1", "E2", "E3", "E4"))
    assert detail.count("<row ") == 1 + 5 + 4 + 3
    assert "Promesa cumplida" in summary

    pdf = await tech.get("/reports/subject/export", params={**params, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000

    admin = crm.reports("u-admin", "admin")
    for fmt, magic in (("csv", b"\xef\xbb\xbfResumen"), ("xlsx", b"PK"), ("pdf", b"%PDF")):
        response = await admin.get("/reports/overview/export", params={**P, "format": fmt})
        assert response.status_code == 200 and response.content.startswith(magic), fmt
    overview_csv = (await admin.get("/reports/overview/export", params={**P, "format": "csv"})).text
    assert "Gerencia Técnica" in overview_csv and "Por responsable" in overview_csv


async def test_events_out_of_order_converge(crm: Crm, history: dict[str, Any]) -> None:
    """A closure before its opening, a reopen before the closure it undoes: the same rows as in order."""
    client_id, event_id, ticket_id, attention_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    march = datetime(2020, 3, 10, 12, tzinfo=SV)
    subject = Subject(kind="client", client_id=client_id, display_name="Cooperativa Los Naranjos")
    await crm.publish(
        EventClosed(
            event_id=event_id,
            attention_id=attention_id,
            closed_by="u-atencion",
            closed_at=march + timedelta(days=2),
        ),
        "attentions",
    )
    await crm.publish(
        TicketReopened(
            ticket_id=ticket_id,
            event_id=event_id,
            attention_id=attention_id,
            reopened_at=march + timedelta(days=1, hours=2),
        ),
        "tickets",
    )
    await crm.publish(
        TicketClosed(
            ticket_id=ticket_id,
            event_id=event_id,
            attention_id=attention_id,
            resolution="ok",
            closed_at=march + timedelta(days=1),
        ),
        "tickets",
    )
    await crm.publish(
        EventOpened(
            event_id=event_id,
            attention_id=attention_id,
            code="EVT-2020-000001",
            subject=subject,
            title="Factibilidad",
            client_commitment_date=date(2020, 3, 20),
            internal_commitment_date=date(2020, 3, 11),
            created_by="u-atencion",
        ),
        "attentions",
        occurred_at=march,
    )
    await crm.publish(
        TicketAssigned(
            ticket_id=ticket_id,
            code="TCK-2020-000001",
            responsibility="Revisar",
            due_date=date(2020, 3, 11),
            responsible=Person(
                user_id="u-tecnico", name="Luis Hernández", email="luis@edesal.test", area="Gerencia Técnica"
            ),
            event_id=event_id,
            event_code="EVT-2020-000001",
            event_title="Factibilidad",
            event_internal_commitment_date=date(2020, 3, 11),
            attention_id=attention_id,
            attention_code="ATN-2020-000001",
            subject=subject,
            requested_by="u-atencion",
        ),
        "tickets",
        occurred_at=march,
    )
    await crm.publish(
        ClientUpserted(client_id=client_id, code="CLI-2020", kind="stakeholder", name="Cooperativa"),
        "attentions",
    )
    admin = crm.reports("u-admin", "admin")
    params = {"client_id": str(client_id), "from": "2020-03-01", "to": "2020-03-31"}

    async def probe() -> Any:
        r = await admin.get("/reports/subject", params=params)
        return r.json() if r.status_code == 200 else None

    report = await eventually(
        probe,
        lambda r: (
            r is not None
            and len(r["tickets"]) == 1
            and len(r["events"]) == 1
            and r["tickets"][0]["code"] is not None
            and r["events"][0]["code"] is not None
        ),
        what="out-of-order events applied",
    )
    assert report["subject"]["client_kind"] == "stakeholder"
    assert report["summary"]["events"]["closed"] == 1
    assert (
        report["summary"]["events"]["internal_kept"] == 0 and report["summary"]["events"]["client_kept"] == 1
    )
    ticket = report["tickets"][0]
    assert (ticket["status"], ticket["closed_at"], ticket["reopens"]) == ("reopened", None, 1)
    assert report["summary"]["tickets"] == {
        "opened": 1,
        "closed": 0,
        "open_at_end": 1,
        "overdue": 1,
        "avg_days_to_close": None,
        "reopened": 1,
        "reopens": 1,
    }


async def test_rebuild_from_the_topics_gives_the_same_reports(crm: Crm, history: dict[str, Any]) -> None:
    admin = crm.reports("u-admin", "admin")
    params = {"client_id": history["client"]["client_id"], **P}
    before_subject = await ok(await admin.get("/reports/subject", params=params))
    before_overview = await ok(await admin.get("/reports/overview", params=P))
    settings = crm.reports_rt.settings
    assert isinstance(settings, ReportsSettings)
    pool = crm.reports_rt.pool
    await assert_rollups_agree(pool)  # as maintained by the worker, event by event
    async with pool.acquire() as conn, conn.transaction():
        await truncate(conn, settings.service_name)
    assert (await admin.get("/reports/subject", params=params)).status_code == 404  # dropped: nothing left
    empty = await ok(await admin.get("/reports/overview", params=P))
    assert empty["summary"]["attentions"]["opened"] == 0
    read = await rebuild(settings, pool)  # what `python -m reports rebuild` runs
    assert read > 20
    assert await ok(await admin.get("/reports/subject", params=params)) == before_subject
    assert await ok(await admin.get("/reports/overview", params=P)) == before_overview
    await assert_rollups_agree(pool)  # as maintained through the replay

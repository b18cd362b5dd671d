"""The seed-000 story end to end on the real local stack, through the nginx gateway, for a prospect, a
stakeholder and a suministro, ending with each subject's period report.

Every service is a separate process as `make up` runs it; the broker is Tansu, the mail catcher maildump,
COMANDA the simulator on the real broker. FACTELEC is a small demo database read by the factelec-sync
service, so the suministro comes the way it does in production: from the billing system, through events.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventually import eventually
from stack_harness import ROOT, StackHarness
from story_load import ADMIN, CLERK, PERIOD, SALES, TECHNICIAN, Load, mail_subjects

pytestmark = pytest.mark.integration


def _factelec(harness: StackHarness, *args: str) -> None:
    env = dict(harness.procs["factelec-sync"].env)
    subprocess.run(
        [sys.executable, "-m", "factelec_sync", *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


async def _story(load: Load, mail_api: str, subject_path: str, name: str) -> dict[str, Any]:
    """Attention -> event -> ticket -> email -> closed in COMANDA -> event and attention closed."""
    today = date.today()

    attention = await load.write(
        CLERK,
        f"{subject_path}/attentions",
        {"channel": "visit", "subject": f"{name}: visita", "description": "Visita registrada.",
         "happened_at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    event = await load.write(
        CLERK,
        f"/attentions/{attention['attention_id']}/events",
        {"title": f"{name}: compromiso", "internal_commitment_date": (today + timedelta(days=3)).isoformat(),
         "client_commitment_date": (today + timedelta(days=7)).isoformat()},
    )  # fmt: skip
    ticket = await load.write(
        CLERK,
        f"/events/{event['event_id']}/tickets",
        {"responsibility": f"{name}: inspección", "due_date": (today + timedelta(days=2)).isoformat(),
         "responsible_id": TECHNICIAN, "cc_ids": [SALES]},
    )  # fmt: skip
    ticket_id = str(ticket["ticket_id"])
    detail = await eventually(
        lambda: load.find("tickets", ADMIN, f"/tickets/{ticket_id}"), timeout=60, what="ticket materialized"
    )
    code = detail["code"]
    await eventually(
        lambda: mail_subjects(load._http, mail_api),
        lambda subjects: any(s.startswith(f"Se le asignó el ticket {code} ") for s in subjects),
        timeout=60,
        what=f"assignment email for {code}",
    )
    await load.comanda_close(ticket_id, "Inspección realizada, sin hallazgos.")
    await eventually(
        lambda: load.get("attentions", CLERK, f"/events/{event['event_id']}"),
        lambda e: e["tickets_closed"] == 1,
        timeout=60,
        what="closure rolled up to the event",
    )

    await load.write(CLERK, f"/events/{event['event_id']}/close", {"note": "Cumplido."})
    await load.write(CLERK, f"/attentions/{attention['attention_id']}/close", {"note": "Atendido."})
    return {"attention": attention, "event": event, "ticket": detail}


async def _report(load: Load, user: str, **subject: str) -> Any:
    return await load.call("reports", user, "GET", "/reports/subject", params={**subject, **PERIOD})


@pytest.mark.timeout(600)
async def test_seed_story_for_prospect_stakeholder_and_suministro(local_stack: StackHarness) -> None:
    harness = local_stack
    load = Load(harness.gateway_urls, harness.broker, uuid.uuid4().hex[:6])
    # Tokens come from the development issuer (attentions, through the gateway too).
    await load.start_comanda()
    try:
        # FACTELEC: a demo billing database; one sync run publishes its supply points to the replica.
        await asyncio.to_thread(
            _factelec,
            harness,
            "demo-source",
            "--rows",
            "40",
            "--dsn",
            harness.plan.factelec_source,
            "--quiet",
        )
        await asyncio.to_thread(_factelec, harness, "sync", "--no-progress", "--json")
        points = await eventually(
            lambda: load.get("attentions", CLERK, "/supply-points"),
            lambda page: page["total"] > 0,
            timeout=60,
            what="supply points in the replica",
        )
        nic = points["items"][0]["nic"]

        tag = uuid.uuid4().hex[:6]

        prospect = await load.write(
            CLERK,
            "/clients",
            {"kind": "prospect", "name": f"Prospecto {tag}", "sector": "Industria"},
        )
        stakeholder = await load.write(
            CLERK,
            "/clients",
            {"kind": "stakeholder", "name": f"Alcaldía {tag}", "sector": "Gobierno local"},
        )
        # "+ Agregar usuario": the technician is given access to the prospect only.
        shared = await load.call(
            "attentions",
            CLERK,
            "POST",
            f"/clients/{prospect['client_id']}/access",
            json={"user_id": TECHNICIAN},
        )
        assert shared.status_code in (200, 201), shared.text

        stories = {
            "prospect": await _story(load, harness.mail_api, f"/clients/{prospect['client_id']}", f"P-{tag}"),
            "stakeholder": await _story(
                load, harness.mail_api, f"/clients/{stakeholder['client_id']}", f"S-{tag}"
            ),
            "suministro": await _story(load, harness.mail_api, f"/supply-points/{nic}", f"N-{tag}"),
        }
        for story in stories.values():
            attention = await load.get(
                "attentions", CLERK, f"/attentions/{story['attention']['attention_id']}"
            )
            assert attention["status"] == "closed"

        subjects = {
            "prospect": {"client_id": prospect["client_id"]},
            "stakeholder": {"client_id": stakeholder["client_id"]},
            "suministro": {"nic": nic},
        }
        for kind, subject in subjects.items():

            async def summary(subject: dict[str, str] = subject) -> Any:
                response = await _report(load, CLERK, **subject)
                return response.json().get("summary") if response.status_code == 200 else None

            def complete(s: Any) -> bool:
                return bool(s) and s["tickets"]["closed"] >= 1 and s["attentions"]["closed"] >= 1

            figures = await eventually(summary, complete, timeout=60, interval=0.5, what=f"{kind} report")
            expected_attentions = 1 if kind != "suministro" else figures["attentions"]["opened"]
            assert figures["attentions"]["opened"] == expected_attentions, (kind, figures)
            assert figures["attentions"]["closed"] == figures["attentions"]["opened"], (kind, figures)
            if kind != "suministro":  # other tests may add attentions on the same supply point
                assert figures["events"]["opened"] == figures["events"]["closed"] == 1, (kind, figures)
                assert figures["tickets"]["opened"] == figures["tickets"]["closed"] == 1, (kind, figures)
                assert figures["events"]["promise_kept_rate"] == 1.0, (kind, figures)

        # The report follows the access list: the sales agent may not see the prospect, the technician may.
        assert (await _report(load, SALES, client_id=prospect["client_id"])).status_code == 404
        assert (await _report(load, TECHNICIAN, client_id=prospect["client_id"])).status_code == 200
        xlsx = await load.call(
            "reports",
            CLERK,
            "GET",
            "/reports/subject/export",
            params={"client_id": prospect["client_id"], **PERIOD, "format": "xlsx"},
        )  # fmt: skip
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    finally:
        load.stop.set()
        await load.close()

"""Whole-path benchmark: a ticket created through the attentions API -> its assignment email accepted.

    python3 -m uv run python benchmarks/system_bench.py [--samples 100]

The attentions service (API, worker, relay), the tickets service (worker, relay) and the notifications
service (worker and mail sender) run in this process, on one broker and one PostgreSQL, with the SMTP
server (aiosmtpd, stamping each accepted message) in a process of its own. Each sample creates one ticket
with POST /events/{id}/tickets and waits until the responsible person's email is accepted: the path crosses
two outboxes and relays, three consumers and the SMTP sender. Target (issue 5): p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from attentions.service import define as define_attentions
from attentions.settings import Settings as AttentionsSettings
from common import broker, scratch_database, summary_ms, write_results
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from notifications.service import define as define_notifications
from notifications.settings import Settings as NotificationsSettings
from notifications_bench import SmtpServer
from tickets.service import define as define_tickets
from tickets.settings import Settings as TicketsSettings

STAFF_CSV = """user_id,name,email,area,manager_id,roles,active
u-admin,Ana Martínez,ana@edesal.example,Gerencia General,,admin,true
u-atencion,Carlos Rivas,carlos@edesal.example,Atención al Cliente,u-admin,agent,true
u-tecnico,Luis Hernández,luis@edesal.example,Gerencia Técnica,u-admin,agent,true
"""


async def run(samples: int) -> dict[str, Any]:
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")
    with broker() as bootstrap:
        async with contextlib.AsyncExitStack() as stack:
            smtp = await stack.enter_async_context(SmtpServer().running())
            common: dict[str, Any] = {
                "kafka_bootstrap_servers": bootstrap,
                "topic_prefix": f"sys{uuid.uuid4().hex[:6]}.",
                "consumer_session_timeout_ms": 3000,
                "consumer_heartbeat_interval_ms": 500,
                "log_json": False,
                "log_level": "WARNING",
                "jwt_issuer": "edesal-crm",
                "jwt_audience": "edesal-crm",
                "jwt_public_key": issuer.public_pem(),
            }
            attentions = ServiceRuntime(
                define_attentions(
                    AttentionsSettings(
                        database_url=await stack.enter_async_context(scratch_database("sys_att")), **common
                    )
                )
            )
            tickets = ServiceRuntime(
                define_tickets(
                    TicketsSettings(
                        database_url=await stack.enter_async_context(scratch_database("sys_tck")), **common
                    )
                )
            )
            notifications = ServiceRuntime(
                define_notifications(
                    NotificationsSettings(
                        database_url=await stack.enter_async_context(scratch_database("sys_ntf")),
                        smtp_host="127.0.0.1",
                        smtp_port=smtp.port,
                        scheduler_enabled=False,
                        **common,
                    )
                )
            )
            await stack.enter_async_context(attentions.running())
            await stack.enter_async_context(tickets.running({"worker", "relay"}))
            await stack.enter_async_context(notifications.running({"worker"}))
            assert attentions.api is not None

            def caller(user: str, roles: tuple[str, ...]) -> httpx.AsyncClient:
                token = issuer.issue(user, name=user, email=f"{user}@edesal.example", roles=roles)
                return httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=attentions.api),
                    base_url="http://attentions",
                    headers={"Authorization": f"Bearer {token}"},
                )

            admin = await stack.enter_async_context(caller("u-admin", ("admin",)))
            clerk = await stack.enter_async_context(caller("u-atencion", ("agent",)))
            r = await admin.post("/staff/import", files={"file": ("s.csv", STAFF_CSV.encode(), "text/csv")})
            r.raise_for_status()
            client = (await clerk.post("/clients", json={"kind": "prospect", "name": "Cliente"})).json()
            attention = (
                await clerk.post(
                    f"/clients/{client['client_id']}/attentions",
                    json={"channel": "phone", "subject": "s", "happened_at": "2026-11-20T09:00:00-06:00"},
                )
            ).json()
            today = date.today()
            event = (
                await clerk.post(
                    f"/attentions/{attention['attention_id']}/events",
                    json={
                        "title": "t",
                        "internal_commitment_date": (today + timedelta(days=30)).isoformat(),
                        "client_commitment_date": (today + timedelta(days=40)).isoformat(),
                    },
                )
            ).json()

            async def one() -> float:
                started = time.time()
                response = await clerk.post(
                    f"/events/{event['event_id']}/tickets",
                    json={
                        "responsibility": "Revisar",
                        "due_date": (today + timedelta(days=10)).isoformat(),
                        "responsible_id": "u-tecnico",
                    },
                )
                response.raise_for_status()
                accepted = await smtp.wait_ticket(response.json()["code"], timeout=60)
                return accepted - started

            for _ in range(5):  # warm up: groups joined, SMTP connection open
                await one()
            latencies = []
            for _ in range(samples):
                latencies.append(await one())
                await asyncio.sleep(0.02)
    result = summary_ms(latencies)
    print(f"ticket created through the attentions API -> email accepted: {result}")
    return {
        "ticket_created_via_api_to_email_accepted": result,
        "targets": {"p99_ms_below": 1000, "met": result["p99_ms"] < 1000},
        "notes": "attentions (API, worker, relay), tickets (worker, relay) and notifications (worker, "
        "sender) in one process; SMTP server in its own process; one ticket at a time.",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    results = asyncio.run(run(parser.parse_args().samples))
    print(f"written to {write_results('system', results)}")


if __name__ == "__main__":
    main()

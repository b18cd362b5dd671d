"""The services of the CRM in this process, on the real PostgreSQL and broker, with a small world in them.

Used by the fuzzing and security tests of this folder. ``running_system`` starts attentions, tickets,
notifications and factelec-sync (each its own fresh database, this run's topic prefix and consumer
groups, one token issuer all of them trust), and ``seed_world`` puts real objects in every one of them
through their own paths: the staff directory imported through the attentions API, a FACTELEC demo source
synced onto the broker (so the suministros replica fills), a client with a contact, attention, event,
ticket and attachment, the ticket materialized by the tickets service and its assignment email recorded
by the notifications service, and a technical work order. The ids of those objects are what the fuzzer
puts in path parameters so that it reaches past "not found".
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from attentions.service import define as define_attentions
from attentions.settings import Settings as AttentionsSettings
from crmkit import localstack
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from factelec_sync.demo_source import generator
from factelec_sync.service import define as define_factelec
from factelec_sync.settings import Settings as FactelecSettings
from factelec_sync.sync import SupplyPointSync
from fastapi import FastAPI
from notifications.service import define as define_notifications
from notifications.settings import Settings as NotificationsSettings
from reports.service import define as define_reports
from reports.settings import Settings as ReportsSettings
from tickets.service import define as define_tickets
from tickets.settings import Settings as TicketsSettings

ISSUER = "edesal-crm"
AUDIENCE = "edesal-crm"
SERVICES = ("attentions", "tickets", "notifications", "factelec-sync", "reports")

STAFF_CSV = """user_id,name,email,area,manager_id,roles,active
u-admin,Ana Admin,ana@edesal.test,Gerencia General,,admin,true
u-gerente,Gloria Gerente,gloria@edesal.test,Gerencia Técnica,u-admin,technical_manager,true
u-ana,Ana Agente,ana.agente@edesal.test,Atención al Cliente,u-gerente,agent,true
u-beto,Beto Comercial,beto@edesal.test,Comercial,u-gerente,agent,true
u-carla,Carla Técnica,carla@edesal.test,Gerencia Técnica,u-gerente,agent,true
u-otro,Otro Agente,otro@edesal.test,Comercial,u-gerente,agent,true
"""
ROLES: dict[str, tuple[str, ...]] = {
    "u-admin": ("admin",),
    "u-gerente": ("technical_manager",),
    "u-ana": ("agent",),
    "u-beto": ("agent",),
    "u-carla": ("agent",),
    "u-otro": ("agent",),
}


def _settings(
    name: str, infra: Any, prefix: str, database_url: str, issuer: DevTokenIssuer, **extra: Any
) -> Any:
    common: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": infra.kafka,
        "kafka_idempotence": infra.kafka_is_apache,
        "topic_prefix": prefix,
        "consumer_session_timeout_ms": 3000,
        "consumer_heartbeat_interval_ms": 500,
        "consumer_retry_backoff_s": 0.05,
        "consumer_max_attempts": 2,
        "relay_poll_interval_s": 0.5,
        "relay_standby_interval_s": 0.2,
        "log_json": False,
        "log_level": "WARNING",
        "gc_gen0_threshold": 0,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_public_key": issuer.public_pem(),
    }
    if name == "attentions":
        return AttentionsSettings(**common, attachment_max_bytes=64 * 1024, **extra)
    if name == "tickets":
        return TicketsSettings(**common, **extra)
    if name == "notifications":
        # Emails stay in the delivery log as pending: no SMTP server is part of these tests.
        return NotificationsSettings(**common, mail_sender_enabled=False, scheduler_enabled=False, **extra)
    if name == "factelec-sync":
        return FactelecSettings(
            **common,
            factelec_source_settle_s=0.0,
            factelec_batch_size=500,
            factelec_sync_interval_s=0.0,
            **extra,
        )
    if name == "reports":
        return ReportsSettings(**common, **extra)
    raise ValueError(name)


DEFINE = {
    "attentions": define_attentions,
    "tickets": define_tickets,
    "notifications": define_notifications,
    "factelec-sync": define_factelec,
    "reports": define_reports,
}
# What runs of each service: factelec-sync's worker part is its scheduled sync, driven by hand here.
PARTS = {
    "attentions": {"api", "worker", "relay"},
    "tickets": {"api", "worker", "relay"},
    "notifications": {"api", "worker"},
    "factelec-sync": {"api", "relay"},
    "reports": {"api", "worker"},
}


@dataclass
class System:
    infra: Any
    prefix: str
    issuer: DevTokenIssuer
    runtimes: dict[str, ServiceRuntime] = field(default_factory=dict)
    source_dsn: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def app(self, service: str) -> FastAPI:
        api = self.runtimes[service].api
        assert api is not None, service
        return api

    def token(self, user: str, roles: Sequence[str] | None = None, **claims: Any) -> str:
        roles = ROLES.get(user, ("agent",)) if roles is None else roles
        return self.issuer.issue(user, name=user, email=f"{user}@edesal.test", roles=roles, **claims)

    def client(self, service: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app(service)),
            base_url=f"http://{service}",
            headers=headers,
            timeout=30,
        )
        self._clients.append(http)
        return http

    def as_(self, service: str, user: str, roles: Sequence[str] | None = None) -> httpx.AsyncClient:
        return self.client(service, {"Authorization": f"Bearer {self.token(user, roles)}"})

    async def fetch(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.runtimes[service].pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchval(self, service: str, query: str, *args: Any) -> Any:
        async with self.runtimes[service].pool.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def close_clients(self) -> None:
        for http in self._clients:
            await http.aclose()
        self._clients.clear()


@contextlib.asynccontextmanager
async def _database(infra: Any, label: str) -> AsyncIterator[str]:
    name = f"t_sys_{label.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield localstack.with_database(infra.postgres_url, name)
    finally:
        admin = await asyncpg.connect(infra.postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def running_system(
    infra: Any, services: Collection[str] = SERVICES, parts: dict[str, set[str]] | None = None
) -> AsyncIterator[System]:
    """The services started in this process (each its own database), stopped and dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    system = System(infra, prefix, DevTokenIssuer(issuer=ISSUER, audience=AUDIENCE))
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(system.close_clients)
        system.source_dsn = await stack.enter_async_context(_database(infra, "factelec_src"))
        conn = await asyncpg.connect(system.source_dsn)
        try:
            await generator.create_schema(conn)
        finally:
            await conn.close()
        for name in services:
            url = await stack.enter_async_context(_database(infra, name))
            extra = {"factelec_source_dsn": system.source_dsn} if name == "factelec-sync" else {}
            runtime = ServiceRuntime(
                DEFINE[name](_settings(name, infra, prefix, url, system.issuer, **extra))
            )
            await stack.enter_async_context(runtime.running((parts or PARTS)[name]))
            system.runtimes[name] = runtime
        yield system


def pdf_bytes() -> bytes:
    """A small valid PDF (one blank page) with a correct xref table."""
    body = bytearray(b"%PDF-1.4\n")
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
    ]
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj" % number + obj + b"endobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        body += b"%010d 00000 n \n" % offset
    body += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(body)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


async def seed_world(system: System) -> dict[str, str]:
    """Objects in every running service, made through the services' own paths; returns their ids.

    The client belongs to u-ana (creator) with u-beto and u-carla on its access list; u-otro and u-gerente
    are staff without access. The ticket is u-carla's (Gerencia Técnica), so it may carry a work order.
    """
    ids: dict[str, str] = {}
    services = system.runtimes
    admin = system.as_("attentions", "u-admin")
    ok(await admin.post("/staff/import", files={"file": ("staff.csv", STAFF_CSV.encode(), "text/csv")}))
    ids["user_id"] = "u-ana"

    if "factelec-sync" in services:
        await generator.fill(system.source_dsn, 40, bad_rows=2, seed=7)
        runtime = services["factelec-sync"]
        settings = runtime.settings
        assert isinstance(settings, FactelecSettings)
        summary = await SupplyPointSync(settings, runtime.pool).run(full=True, trigger="test")
        ids["run_id"] = str(summary.run_id)
        nic = await system.fetchval("factelec-sync", "SELECT nic FROM sync_known_supply_points LIMIT 1")
        ids["nic"] = str(nic)

        async def replicated() -> int:
            return int(await system.fetchval("attentions", "SELECT count(*) FROM supply_points"))

        await eventually(replicated, lambda n: n > 0, timeout=60, what="suministros replicated")

    ana = system.as_("attentions", "u-ana")
    client = ok(
        await ana.post(
            "/clients",
            json={
                "kind": "stakeholder",
                "name": "Alcaldía de Sonsonate",
                "sector": "Gobierno",
                "access_user_ids": ["u-beto", "u-carla"],
            },
        ),
        201,
    )
    ids["client_id"] = client["client_id"]
    contact = ok(await ana.post(f"/clients/{client['client_id']}/contacts", json={"name": "Rosa"}), 201)
    ids["contact_id"] = contact["contact_id"]
    attention = ok(
        await ana.post(
            f"/clients/{client['client_id']}/attentions",
            json={
                "channel": "phone",
                "subject": "Solicitud de ampliación de red",
                "description": "Llamada del alcalde",
                "happened_at": "2026-03-02T10:00:00-06:00",
            },
        ),
        201,
    )
    ids["attention_id"] = attention["attention_id"]
    today = date.today()
    event = ok(
        await ana.post(
            f"/attentions/{attention['attention_id']}/events",
            json={
                "title": "Estudio de factibilidad",
                "description": "Visita técnica y presupuesto",
                "internal_commitment_date": str(today + timedelta(days=20)),
                "client_commitment_date": str(today + timedelta(days=30)),
            },
        ),
        201,
    )
    ids["event_id"] = event["event_id"]
    ticket = ok(
        await ana.post(
            f"/events/{event['event_id']}/tickets",
            json={
                "responsibility": "Medir la carga del transformador",
                "due_date": str(today + timedelta(days=10)),
                "responsible_id": "u-carla",
            },
        ),
        201,
    )
    ids["ticket_id"] = ticket["ticket_id"]
    attachment = ok(
        await ana.post(
            f"/attentions/{attention['attention_id']}/attachments",
            files={"file": ("carta.pdf", pdf_bytes(), "application/pdf")},
        ),
        201,
    )
    ids["attachment_id"] = attachment["attachment_id"]
    ids["object_type"], ids["object_id"] = "attention", attention["attention_id"]

    if "tickets" in services:
        carla = system.as_("tickets", "u-carla")

        async def materialized() -> int:
            return (await carla.get(f"/tickets/{ticket['ticket_id']}")).status_code

        await eventually(materialized, lambda s: s == 200, timeout=60, what="ticket materialized")
        order = ok(
            await carla.post(
                "/work-orders",
                json={
                    "ticket_id": ticket["ticket_id"],
                    "work_type": "inspection",
                    "address": "Col. Centro, 4a Calle Pte #12, Sonsonate",
                    "description": "Inspección del transformador",
                    "requested_date": str(today + timedelta(days=5)),
                },
            ),
            201,
        )
        ids["order_id"] = order["id"]

    if "notifications" in services:

        async def message() -> str | None:
            value = await system.fetchval(
                "notifications",
                "SELECT id::text FROM email_messages WHERE ticket_id = $1",
                uuid.UUID(ticket["ticket_id"]),
            )
            return str(value) if value else None

        ids["message_id"] = await eventually(message, bool, timeout=60, what="assignment email recorded")
    if "reports" in services:
        reporter = system.as_("reports", "u-ana")
        period = {
            "client_id": client["client_id"],
            "from": str(today - timedelta(days=400)),
            "to": str(today),
        }

        async def reported() -> int:
            return (await reporter.get("/reports/subject", params=period)).status_code

        await eventually(reported, lambda s: s == 200, timeout=60, what="client projected in reports")
    system.ids = ids
    return ids

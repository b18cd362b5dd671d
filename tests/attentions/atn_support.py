"""Support of the attentions tests: the in-process service with callers, builders and problem checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from attentions.settings import Settings
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime

ISSUER = "https://id.edesal.test/"
AUDIENCE = "edesal-crm"

# The staff directory every test starts with (user_id, name, area, manager, roles, active).
STAFF_CSV = """user_id,name,email,area,manager_id,roles,active
u-admin,Ana Admin,ana@edesal.test,Gerencia General,,admin,true
u-gerente,Gloria Gerente,gloria@edesal.test,Gerencia Técnica,u-admin,technical_manager,true
u-ana,Ana Agente,ana.agente@edesal.test,Atención al Cliente,u-gerente,agent,true
u-beto,Beto Comercial,beto@edesal.test,Comercial,u-gerente,agent,true
u-carla,Carla Técnica,carla@edesal.test,Gerencia Técnica,u-gerente,agent,true
u-old,Olga Antigua,olga@edesal.test,Comercial,u-gerente,agent,false
"""
ROLES: dict[str, tuple[str, ...]] = {
    "u-admin": ("admin",),
    "u-gerente": ("technical_manager",),
    "u-ana": ("agent",),
    "u-beto": ("agent",),
    "u-carla": ("agent",),
}


@dataclass
class Service:
    runtime: ServiceRuntime
    issuer: DevTokenIssuer
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        settings = self.runtime.settings
        assert isinstance(settings, Settings)
        return settings

    def token(self, user_id: str, roles: Sequence[str] | None = None, **claims: Any) -> str:
        roles = ROLES.get(user_id, ("agent",)) if roles is None else roles
        return self.issuer.issue(user_id, name=user_id, email=f"{user_id}@edesal.test", roles=roles, **claims)

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        assert self.runtime.api is not None
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.runtime.api), base_url="http://attentions", headers=headers
        )
        self.clients.append(http)
        return http

    def as_(self, user_id: str, roles: Sequence[str] | None = None, **claims: Any) -> httpx.AsyncClient:
        """An HTTP client that calls as ``user_id`` (default roles from ROLES)."""
        return self.client({"Authorization": f"Bearer {self.token(user_id, roles, **claims)}"})

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.as_("u-admin")

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        async with self.runtime.pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(query, *args)]

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.runtime.pool.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def counts(self) -> dict[str, int]:
        """Rows of every table a request may write: "nothing written" is these staying equal."""
        tables = [
            "clients",
            "client_access",
            "client_contacts",
            "attentions",
            "events",
            "event_tickets",
            "attachments",
            "audit_log",
            "staff",
            "kit_outbox",
        ]
        async with self.runtime.pool.acquire() as conn:
            return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}

    async def close(self) -> None:
        for http in self.clients:
            await http.aclose()


ServiceFactory = Callable[..., Awaitable[Service]]


# -- small builders used across the test files -------------------------------------------------------------


async def create_client(http: httpx.AsyncClient, name: str = "Alcaldía de Sonsonate", **fields: Any) -> dict:
    body = {
        "kind": "stakeholder",
        "name": name,
        "tax_id": "0614-010190-101-5",
        "sector": "Gobierno",
        **fields,
    }
    response = await http.post("/clients", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_attention(http: httpx.AsyncClient, client_id: str, **fields: Any) -> dict:
    body = {
        "channel": "phone",
        "subject": "Solicitud de ampliación de red",
        "description": "Llamada del alcalde",
        "happened_at": "2026-03-02T10:00:00-06:00",
        **fields,
    }
    response = await http.post(f"/clients/{client_id}/attentions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_event(http: httpx.AsyncClient, attention_id: str, **fields: Any) -> dict:
    body = {
        "title": "Estudio de factibilidad",
        "description": "Visita técnica y presupuesto",
        "internal_commitment_date": "2026-04-10",
        "client_commitment_date": "2026-04-20",
        **fields,
    }
    response = await http.post(f"/attentions/{attention_id}/events", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_ticket(http: httpx.AsyncClient, event_id: str, **fields: Any) -> dict:
    body = {
        "responsibility": "Medir la carga del transformador",
        "due_date": "2026-04-05",
        "responsible_id": "u-carla",
        **fields,
    }
    response = await http.post(f"/events/{event_id}/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem+json with this status; returns it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = dict(response.json())
    assert body["status"] == status
    return body


def rules(body: dict[str, Any]) -> set[tuple[str, str]]:
    """The (field, rule) pairs a problem names."""
    return {(e.get("field", ""), e["rule"]) for e in body.get("errors", [])}


def pdf_bytes(padding: int = 0) -> bytes:
    """A small valid PDF (one blank page) with a correct xref table; ``padding`` bytes of comment."""
    body = bytearray(b"%PDF-1.4\n")
    if padding:
        body += b"%" + b"x" * padding + b"\n"
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


async def seed_supply_point(
    service: Service, nic: str = "3012345", holder: str = "María Elena Castro"
) -> None:
    """A suministro in the replica, written as the FACTELEC handler writes it (no broker)."""
    from datetime import UTC, datetime

    from attentions.store import supply_points

    async with service.runtime.pool.acquire() as conn, conn.transaction():
        await supply_points.upsert_many(
            conn,
            [
                (
                    nic,
                    holder,
                    "Col. Centro, 4a Calle Pte #12",
                    "Sonsonate",
                    "Sonsonate",
                    "T1-BT",
                    "M-998",
                    "connected",
                    datetime(2026, 1, 5, tzinfo=UTC),
                )
            ],
        )


async def report_ticket(service: Service, ticket_id: str, status: str, at: Any) -> str:
    """Applies a ticket status report as the handler does, without the broker (see test_broker_*)."""
    import uuid as _uuid

    from attentions.handlers import apply_ticket_status

    async with service.runtime.pool.acquire() as conn, conn.transaction():
        return await apply_ticket_status(conn, _uuid.UUID(ticket_id), status, at, "comanda-user", {})

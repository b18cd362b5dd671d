"""The seed story across real services on the real broker: attentions, tickets, COMANDA simulated.

A ticket created on an event in the attentions service is materialized by the tickets service, reaches the
COMANDA inbox, is closed there; the closure rolls up so the event, and then the attention, can be closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from attentions.service import define as define_attentions
from attentions.settings import Settings as AttentionsSettings
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from tickets.comanda_sim import ComandaSimulator
from tickets.service import define as define_tickets
from tickets.settings import Settings as TicketsSettings

pytestmark = pytest.mark.integration

STAFF_CSV = """user_id,name,email,area,manager_id,roles,active
u-admin,Ana Martínez,ana.martinez@edesal.test,Gerencia General,,admin,true
u-gtecnico,José Ramírez,jose.ramirez@edesal.test,Gerencia Técnica,u-admin,technical_manager,true
u-tecnico,Luis Hernández,luis.hernandez@edesal.test,Gerencia Técnica,u-gtecnico,agent,true
u-atencion,Carlos Rivas,carlos.rivas@edesal.test,Atención al Cliente,u-admin,agent,true
u-otro,Otro Agente,otro@edesal.test,Comercial,u-admin,agent,true
"""


class Crm:
    def __init__(self, attentions: ServiceRuntime, tickets: ServiceRuntime, issuer: DevTokenIssuer) -> None:
        self.attentions_rt, self.tickets_rt, self.issuer = attentions, tickets, issuer
        self._clients: list[httpx.AsyncClient] = []

    def _as(self, runtime: ServiceRuntime, user: str, roles: tuple[str, ...]) -> httpx.AsyncClient:
        assert runtime.api is not None
        token = self.issuer.issue(user, name=user, email=f"{user}@edesal.test", roles=roles)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.api),
            base_url="http://crm",
            headers={"Authorization": f"Bearer {token}"},
        )
        self._clients.append(http)
        return http

    def attentions(self, user: str, *roles: str) -> httpx.AsyncClient:
        return self._as(self.attentions_rt, user, roles or ("agent",))

    def tickets(self, user: str, *roles: str) -> httpx.AsyncClient:
        return self._as(self.tickets_rt, user, roles or ("agent",))

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


@pytest.fixture
async def crm(settings_for: Callable[..., Any], new_database: Callable[[str], Any]) -> AsyncIterator[Crm]:
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")
    auth = {"jwt_issuer": "edesal-crm", "jwt_audience": "edesal-crm", "jwt_public_key": issuer.public_pem()}
    attentions = ServiceRuntime(
        define_attentions(
            settings_for(cls=AttentionsSettings, database_url=await new_database("attentions"), **auth)
        )
    )
    tickets = ServiceRuntime(
        define_tickets(settings_for(cls=TicketsSettings, database_url=await new_database("tickets"), **auth))
    )
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(attentions.running())
        await stack.enter_async_context(tickets.running())
        crm = Crm(attentions, tickets, issuer)
        stack.push_async_callback(crm.close)
        admin = crm.attentions("u-admin", "admin")
        response = await admin.post(
            "/staff/import", files={"file": ("staff.csv", STAFF_CSV.encode(), "text/csv")}
        )
        assert response.status_code == 200, response.text
        yield crm


async def test_a_ticket_closed_in_comanda_lets_its_event_and_attention_close(crm: Crm) -> None:
    clerk = crm.attentions("u-atencion")
    client = (
        await clerk.post("/clients", json={"kind": "prospect", "name": "Industrias del Pacífico"})
    ).json()
    response = await clerk.post(f"/clients/{client['client_id']}/access", json={"user_id": "u-tecnico"})
    assert response.status_code == 201, response.text
    attention = (
        await clerk.post(
            f"/clients/{client['client_id']}/attentions",
            json={
                "channel": "letter",
                "subject": "Solicitud de nueva acometida",
                "description": "Carta del gerente de planta",
                "happened_at": "2026-11-20T09:00:00-06:00",
            },
        )
    ).json()
    event = (
        await clerk.post(
            f"/attentions/{attention['attention_id']}/events",
            json={
                "title": "Factibilidad de la acometida",
                "description": "Inspección y presupuesto",
                "internal_commitment_date": "2026-12-10",
                "client_commitment_date": "2026-12-15",
            },
        )
    ).json()
    response = await clerk.post(
        f"/events/{event['event_id']}/tickets",
        json={
            "responsibility": "Inspeccionar el punto de conexión",
            "due_date": "2026-12-05",
            "responsible_id": "u-tecnico",
        },
    )
    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]

    # Not closable while the ticket is open.
    response = await clerk.post(f"/events/{event['event_id']}/close", json={"note": "listo"})
    assert response.status_code == 409, response.text

    # The tickets service materialized it for the responsible person; COMANDA has it in the inbox.
    technician = crm.tickets("u-tecnico")

    async def ticket_status() -> str | None:
        r = await technician.get(f"/tickets/{ticket_id}")
        return r.json()["status"] if r.status_code == 200 else None

    assert (
        await eventually(ticket_status, lambda s: s == "assigned", what="ticket materialized") == "assigned"
    )
    settings = crm.tickets_rt.settings
    async with ComandaSimulator(
        settings.kafka_bootstrap_servers, topic_prefix=settings.topic_prefix
    ) as comanda:
        item = await comanda.wait_for(ticket_id)
        assert item.responsible_id == "u-tecnico"
        await comanda.accept(ticket_id, by="u-tecnico")
        await comanda.close(ticket_id, "Punto de conexión inspeccionado; factible", by="u-tecnico")

    await eventually(ticket_status, lambda s: s == "closed", what="ticket closed in the tickets service")

    async def close_event() -> int:
        return (await clerk.post(f"/events/{event['event_id']}/close", json={"note": "Factible"})).status_code

    assert (
        await eventually(close_event, lambda code: code == 200, what="event closable after the rollup") == 200
    )
    response = await clerk.post(
        f"/attentions/{attention['attention_id']}/close", json={"note": "Cliente informado"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"

    # Someone without access to the client sees nothing of it, in either service.
    outsider_a, outsider_t = crm.attentions("u-otro"), crm.tickets("u-otro")
    assert (await outsider_a.get(f"/attentions/{attention['attention_id']}")).status_code == 404
    assert (await outsider_t.get(f"/tickets/{ticket_id}")).status_code == 404

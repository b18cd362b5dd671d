"""Support of the reports tests: the attentions, tickets and reports services in this process on the real
PostgreSQL and broker (one set per module), callers with dev tokens, and a producer that publishes events as
their owning services would (for histories the APIs cannot make, e.g. events out of order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.registry import topic_for
from crmkit.auth import DevTokenIssuer
from crmkit.outbox import encode, record_headers
from crmkit.runtime import ServiceRuntime
from crmkit.settings import KitSettings
from tickets.comanda_sim import ComandaSimulator

STAFF_CSV = """user_id,name,email,area,manager_id,roles,active
u-admin,Ana Martínez,ana.martinez@edesal.test,Gerencia General,,admin,true
u-gtecnico,José Ramírez,jose.ramirez@edesal.test,Gerencia Técnica,u-admin,technical_manager,true
u-tecnico,Luis Hernández,luis.hernandez@edesal.test,Gerencia Técnica,u-gtecnico,agent,true
u-atencion,Carlos Rivas,carlos.rivas@edesal.test,Atención al Cliente,u-admin,agent,true
u-otro,Otro Agente,otro@edesal.test,Comercial,u-admin,agent,true
"""


@dataclass
class Crm:
    attentions_rt: ServiceRuntime
    tickets_rt: ServiceRuntime
    reports_rt: ServiceRuntime
    issuer: DevTokenIssuer
    producer: AIOKafkaProducer
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def _as(self, runtime: ServiceRuntime, user: str, roles: tuple[str, ...]) -> httpx.AsyncClient:
        assert runtime.api is not None
        token = self.issuer.issue(user, name=user, email=f"{user}@edesal.test", roles=roles)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.api),
            base_url="http://crm",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        self._clients.append(http)
        return http

    def attentions(self, user: str, *roles: str) -> httpx.AsyncClient:
        return self._as(self.attentions_rt, user, roles or ("agent",))

    def reports(self, user: str, *roles: str) -> httpx.AsyncClient:
        return self._as(self.reports_rt, user, roles or ("agent",))

    @property
    def settings(self) -> KitSettings:
        return self.reports_rt.settings

    def comanda(self) -> ComandaSimulator:
        s = self.tickets_rt.settings
        return ComandaSimulator(s.kafka_bootstrap_servers, topic_prefix=s.topic_prefix)

    async def publish(self, event: EventModel, producer: str, **envelope: Any) -> Envelope[Any]:
        """Publish ``event`` on its topic as its owning service's relay would."""
        env = new_envelope(event, producer=producer, **envelope)
        headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, env.correlation_id)
        await self.producer.send_and_wait(
            self.settings.topic(topic_for(event).name),
            encode(env),
            key=env.partition_key.encode(),
            headers=headers,
        )
        return env

    async def close(self) -> None:
        for http in self._clients:
            await http.aclose()


# The maintained rollups against the ones computed from the rows (rows netted to zero by a move or a reopen
# are left in place and skipped).
DIFFERENCE = """
(SELECT * FROM rpt_rollups
 WHERE (opened, closed, closed_us, open_delta, overdue_delta, internal_kept, client_kept)
     <> (0, 0, 0, 0, 0, 0, 0)
 EXCEPT ALL SELECT * FROM rpt_rollups_expected)
UNION ALL
(SELECT * FROM rpt_rollups_expected EXCEPT ALL SELECT * FROM rpt_rollups)
"""


async def assert_rollups_agree(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rpt_rollups_expected") > 0
        assert [dict(r) for r in await conn.fetch(DIFFERENCE)] == []
        assert await conn.fetchval("SELECT count(*) FROM rpt_rollup_queue") == 0

"""Fixtures of the tickets tests: the service on the real PostgreSQL and broker, the attentions service's
side (publishing requests and access changes as it would), the COMANDA simulator, tokens and an HTTP client.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.events.common import Person, Subject
from crm_contracts.events.tickets import TicketRequested
from crm_contracts.registry import topic_for
from crmkit import localstack
from crmkit.auth import DevTokenIssuer
from crmkit.outbox import encode, record_headers
from crmkit.runtime import ServiceRuntime
from tickets.comanda_sim import ComandaSimulator
from tickets.service import define
from tickets.settings import Settings

TECHNICAL = "Gerencia Técnica"


@pytest.fixture(scope="session")
def issuer() -> DevTokenIssuer:
    return DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")


def person(user_id: str, area: str = "Atención al Cliente") -> Person:
    return Person(user_id=user_id, name=f"Name of {user_id}", email=f"{user_id}@edesal.example", area=area)


def ticket_request(
    *,
    responsible: Person | None = None,
    cc: list[Person] | None = None,
    client_id: uuid.UUID | None = None,
    nic: str | None = None,
    due_date: date | None = None,
    code: str | None = None,
    **overrides: Any,
) -> TicketRequested:
    """A request as the attentions service would send it; a client ticket unless ``nic`` is given."""
    ticket_id = overrides.pop("ticket_id", uuid.uuid4())
    if nic is not None:
        subject = Subject(kind="supply_point", nic=nic, display_name=f"Titular {nic}")
    else:
        subject = Subject(
            kind="client", client_id=client_id or uuid.uuid4(), display_name="Alcaldía de Sonsonate"
        )
    values: dict[str, Any] = {
        "ticket_id": ticket_id,
        "code": code or f"TCK-2026-{uuid.uuid4().int % 1_000_000:06d}",
        "responsibility": "Revisar el medidor y reportar",
        "due_date": due_date or date.today() + timedelta(days=5),
        "responsible": responsible or person("u-resp"),
        "cc": cc or [],
        "event_id": uuid.uuid4(),
        "event_code": "EVT-2026-000077",
        "event_title": "Reclamo por consumo alto",
        "event_internal_commitment_date": date.today() + timedelta(days=10),
        "attention_id": uuid.uuid4(),
        "attention_code": "ATN-2026-000123",
        "subject": subject,
        "requested_by": "u-agent",
        **overrides,
    }
    return TicketRequested(**values)


class Attentions:
    """The attentions service's side of the topics, with a plain aiokafka producer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=5,
            max_batch_size=262_144,
        )

    async def publish(self, *events: EventModel, wait: bool = True) -> list[Envelope[Any]]:
        envelopes = [new_envelope(e, producer="attentions") for e in events]
        futures = [await self.send(env) for env in envelopes]
        if wait:
            for future in futures:
                await future
        return envelopes

    async def send(self, env: Envelope[Any]) -> Any:
        topic = self.settings.topic(topic_for(env.data).name)
        headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, env.correlation_id)
        return await self.producer.send(topic, encode(env), key=env.partition_key.encode(), headers=headers)

    async def raw(self, logical_topic: str, value: bytes, key: bytes) -> None:
        await self.producer.send_and_wait(self.settings.topic(logical_topic), value, key=key)


def tickets_settings(
    infra: Any, issuer: DevTokenIssuer, database_url: str, prefix: str, **overrides: Any
) -> Settings:
    """Settings of the tickets service in a test (as tests/conftest.py ``settings_for`` makes them)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": infra.kafka,
        "kafka_idempotence": infra.kafka_is_apache,
        "topic_prefix": prefix,
        "consumer_session_timeout_ms": 3000,
        "consumer_heartbeat_interval_ms": 500,
        "consumer_retry_backoff_s": 0.05,
        "relay_poll_interval_s": 0.5,
        "relay_standby_interval_s": 0.2,
        "log_json": False,
        "log_level": "WARNING",
        "jwt_public_key": issuer.public_pem(),
        "gc_gen0_threshold": 0,  # leave the test process's garbage collector alone
        **overrides,
    }
    return Settings(**values)


@dataclass
class Stack:
    """The tickets service running in this process, and everything a test talks to it with."""

    service: ServiceRuntime
    attentions: Attentions
    client: httpx.AsyncClient
    db: Database

    @property
    def settings(self) -> Settings:
        settings = self.service.settings
        assert isinstance(settings, Settings)
        return settings

    def simulator(self) -> ComandaSimulator:
        return ComandaSimulator(
            self.settings.kafka_bootstrap_servers, topic_prefix=self.settings.topic_prefix
        )


@contextlib.asynccontextmanager
async def tickets_stack(infra: Any, issuer: DevTokenIssuer, **overrides: Any) -> AsyncIterator[Stack]:
    """A fresh database and topic prefix, the service (worker, relay, API) on them; dropped afterwards."""
    name = f"t_tickets_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = localstack.with_database(infra.postgres_url, name)
    settings = tickets_settings(infra, issuer, dsn, f"t{uuid.uuid4().hex[:10]}.", **overrides)
    runtime = ServiceRuntime(define(settings))
    try:
        async with runtime.running():
            assert runtime.api is not None
            attentions = Attentions(settings)
            await attentions.producer.start()
            transport = httpx.ASGITransport(app=runtime.api)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://tickets") as http:
                    yield Stack(runtime, attentions, http, Database(dsn))
            finally:
                await attentions.producer.stop()
    finally:
        admin = await asyncpg.connect(infra.postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def stack(infra: Any, issuer: DevTokenIssuer) -> AsyncIterator[Stack]:
    """A tickets service of its own for one test."""
    async with tickets_stack(infra, issuer) as running:
        yield running


@pytest.fixture(scope="module")
async def shared_stack(infra: Any, issuer: DevTokenIssuer) -> AsyncIterator[Stack]:
    """One tickets service for a whole module (tests that do not disturb each other's data)."""
    async with tickets_stack(infra, issuer) as running:
        yield running


@pytest.fixture
def service(stack: Stack) -> ServiceRuntime:
    return stack.service


@pytest.fixture
def attentions(stack: Stack) -> Attentions:
    return stack.attentions


@pytest.fixture
def client(stack: Stack) -> httpx.AsyncClient:
    return stack.client


@pytest.fixture
def db(stack: Stack) -> Database:
    return stack.db


@pytest.fixture
async def comanda(stack: Stack) -> AsyncIterator[ComandaSimulator]:
    async with stack.simulator() as sim:
        yield sim


@pytest.fixture
def auth(issuer: DevTokenIssuer) -> Callable[..., dict[str, str]]:
    """Headers of a caller: ``auth("u-x")`` is an agent; ``auth("u-y", "technical_manager")``."""

    def headers(user_id: str, *roles: str) -> dict[str, str]:
        token = issuer.issue(user_id, name=f"Name of {user_id}", roles=roles or ("agent",))
        return {"Authorization": f"Bearer {token}"}

    return headers


class Database:
    """Direct reads of the service's database, for assertions."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def val(self, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    def counter(self, query: str, *args: Any) -> Callable[[], Any]:
        """A probe for ``eventually``."""

        async def probe() -> Any:
            return await self.val(query, *args)

        return probe


@pytest.fixture(scope="session")
def make_request() -> Callable[..., TicketRequested]:
    """``make_request(responsible=..., cc=[...], client_id=... | nic=..., due_date=...)``."""
    return ticket_request


@pytest.fixture(scope="session")
def make_person() -> Callable[..., Person]:
    """``make_person("u-x", area="Gerencia Técnica")``."""
    return person


def now() -> datetime:
    return datetime.now(UTC)

"""Shared pieces of the notifications tests.

- ``smtp``: a real SMTP server (aiosmtpd, in-process, on a free port) that keeps what it receives and can
  be programmed to answer 451 or 550 for the next N messages, to refuse some addresses, or be stopped and
  started again on the same port;
- ``clock``: a fake clock (nothing sleeps: the scheduler's ``tick()`` is called directly);
- ``make``: contract events as the producing services write them;
- ``notifications``: starts the service in-process (event worker, sender loop, API) on a fresh database,
  this test's topics and the SMTP server above, and publishes events onto the real broker with a plain
  aiokafka producer, as the tickets and attentions services would.
"""

from __future__ import annotations

import contextlib
import email
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from crm_contracts.envelope import Envelope, EventModel, new_envelope
from crm_contracts.events.attentions import EventClosed, EventOpened
from crm_contracts.events.common import Person, Subject
from crm_contracts.events.staff import StaffMemberUpserted
from crm_contracts.events.tickets import TicketAssigned, TicketClosed, TicketReopened
from crm_contracts.registry import topic_for
from crmkit import localstack
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from notifications.domain.rules import Rules
from notifications.service import Parts, define
from notifications.settings import Settings

# -- a real SMTP server -----------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    def __repr__(self) -> str:
        return f"<Received to={self.rcpt_tos} subject={self.subject!r}>"

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())
        raise AssertionError(f"no {content_type} part")

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


class ProgrammableHandler:
    """aiosmtpd handler: accepts and keeps messages, unless told to answer otherwise."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.answers: deque[str] = deque()  # answers to the next DATA commands, e.g. "451 4.3.0 later"
        self.refused: dict[str, str] = {}  # address -> answer to RCPT TO
        self.refusals: list[tuple[str, str]] = []  # (address or "DATA", answer) given so far
        self.connections = 0
        # Awaited on each DATA before the message is kept (in the SMTP server's own event loop).
        self.before_accept: Callable[[], Awaitable[None]] | None = None
        # Awaited after a message is kept, before the server answers 250 (the client does not know yet).
        self.after_keep: Callable[[], Awaitable[None]] | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        answer = self.refused.get(address.lower())
        if answer:
            with self.lock:
                self.refusals.append((address, answer))
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.before_accept is not None:
            await self.before_accept()
        with self.lock:
            if self.answers:
                answer = self.answers.popleft()
                self.refusals.append(("DATA", answer))
                return answer
            raw = bytes(envelope.original_content or envelope.content)
            message = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message))
        if self.after_keep is not None:
            await self.after_keep()
        return "250 2.0.0 OK: queued"


class SmtpSink:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = localstack.free_port()
        self.handler = ProgrammableHandler()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, ready_timeout=10)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def answer_next(self, n: int, answer: str) -> None:
        """The next ``n`` DATA commands get ``answer`` (e.g. ``451 4.3.0 Try again later``)."""
        with self.handler.lock:
            self.handler.answers.extend([answer] * n)

    def refuse(self, address: str, answer: str = "550 5.1.1 <{}>: Recipient address rejected") -> None:
        self.handler.refused[address.lower()] = answer.format(address)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def refusals(self) -> list[tuple[str, str]]:
        with self.handler.lock:
            return list(self.handler.refusals)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received if address in m.rcpt_tos]

    async def wait_for(self, count: int, timeout: float = 20, what: str = "messages") -> list[Received]:
        async def probe() -> list[Received]:
            return self.received

        return await eventually(probe, lambda got: len(got) >= count, timeout=timeout, what=what)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# -- time -------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


SV = timedelta(hours=-6)  # America/El_Salvador, UTC-6 all year


def sv(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An El Salvador wall-clock time, as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - SV


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(sv(2026, 11, 2, 9, 0))


@pytest.fixture(name="sv")
def sv_fixture() -> Callable[..., datetime]:
    """``sv(2026, 11, 8, 7, 0)``: an El Salvador wall-clock time as an aware instant."""
    return sv


# -- events -----------------------------------------------------------------------------------------------


class Make:
    """Contract events with sensible values; every call gets fresh ids."""

    def person(self, user_id: str, name: str | None = None, area: str = "Gerencia Comercial") -> Person:
        return Person(
            user_id=user_id, name=name or user_id.title(), email=f"{user_id}@edesal.example", area=area
        )

    def staff(
        self,
        user_id: str,
        name: str | None = None,
        manager_id: str | None = None,
        area: str = "Gerencia Comercial",
        active: bool = True,
        email: str | None = None,
    ) -> StaffMemberUpserted:
        return StaffMemberUpserted(
            user_id=user_id,
            name=name or user_id.title(),
            email=email or f"{user_id}@edesal.example",
            area=area,
            manager_id=manager_id,
            roles=["agent"],
            active=active,
        )

    def assigned(
        self,
        responsible: Person,
        cc: list[Person] | None = None,
        due_date: date = date(2026, 11, 20),
        internal: date = date(2026, 11, 25),
        event_id: uuid.UUID | None = None,
        code: str | None = None,
        responsibility: str = "Revisar el medidor y reportar la lectura",
        subject: Subject | None = None,
    ) -> TicketAssigned:
        ticket_id = uuid.uuid4()
        return TicketAssigned(
            ticket_id=ticket_id,
            code=code or f"TCK-2026-{ticket_id.int % 1_000_000:06d}",
            responsibility=responsibility,
            due_date=due_date,
            responsible=responsible,
            cc=cc or [],
            event_id=event_id or uuid.uuid4(),
            event_code="EVT-2026-000077",
            event_title="Reclamo por facturación alta",
            event_internal_commitment_date=internal,
            attention_id=uuid.uuid4(),
            attention_code="ATN-2026-000123",
            subject=subject
            or Subject(kind="supply_point", nic="3012345", display_name="José Martínez Hernández"),
            requested_by="u-clerk",
        )

    def closed(self, ticket: TicketAssigned, at: datetime) -> TicketClosed:
        return TicketClosed(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            attention_id=ticket.attention_id,
            resolution="Medidor reemplazado.",
            closed_at=at,
            closed_by=ticket.responsible.user_id,
        )

    def reopened(self, ticket: TicketAssigned, at: datetime) -> TicketReopened:
        return TicketReopened(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            attention_id=ticket.attention_id,
            reason="El cliente reporta el mismo problema.",
            reopened_at=at,
        )

    def event_opened(
        self, created_by: str, client: date, internal: date, event_id: uuid.UUID | None = None
    ) -> EventOpened:
        return EventOpened(
            event_id=event_id or uuid.uuid4(),
            attention_id=uuid.uuid4(),
            code="EVT-2026-000078",
            subject=Subject(kind="client", client_id=uuid.uuid4(), display_name="Alcaldía de Sonsonate"),
            title="Ampliación de red en colonia El Progreso",
            client_commitment_date=client,
            internal_commitment_date=internal,
            created_by=created_by,
        )

    def event_closed(self, event: EventOpened, at: datetime) -> EventClosed:
        return EventClosed(
            event_id=event.event_id, attention_id=event.attention_id, closed_by="u", closed_at=at
        )


@pytest.fixture
def make() -> Make:
    return Make()


# -- the service ------------------------------------------------------------------------------------------

PRODUCER_OF = {"tickets.tickets.v1": "tickets"}


@dataclass
class Notifications:
    """A running notifications service and what a test needs around it."""

    runtime: ServiceRuntime
    settings: Settings
    producer: AIOKafkaProducer
    issuer: DevTokenIssuer
    stack: contextlib.AsyncExitStack
    published: list[Envelope[Any]] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop the service (the sender finishes its round); idempotent."""
        await self.stack.aclose()

    @property
    def parts(self) -> Parts:
        parts: Parts = self.runtime.state["notifications"]
        return parts

    async def publish(self, *events: EventModel, occurred_at: datetime | None = None) -> list[Envelope[Any]]:
        """Publish as the producing service would: an envelope onto the event's topic, keyed by aggregate."""
        envelopes = []
        for event in events:
            topic = topic_for(event)
            envelope = new_envelope(
                event, producer=PRODUCER_OF.get(topic.name, "attentions"), occurred_at=occurred_at
            )
            await self.send(envelope)
            envelopes.append(envelope)
        return envelopes

    async def send(self, envelope: Envelope[Any]) -> None:
        """Send one envelope (again, for a redelivery) onto its topic."""
        topic = self.settings.topic(topic_for(envelope.data).name)
        headers = [
            ("event_id", str(envelope.event_id).encode()),
            ("event_type", envelope.type.encode()),
            ("schema_version", str(envelope.schema_version).encode()),
            ("producer", envelope.producer.encode()),
            ("content-type", b"application/json"),
        ]
        await self.producer.send_and_wait(
            topic, envelope.model_dump_json().encode(), key=envelope.partition_key.encode(), headers=headers
        )
        self.published.append(envelope)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.runtime.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.runtime.pool.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def messages(self) -> list[asyncpg.Record]:
        return await self.fetch("SELECT * FROM email_messages ORDER BY created_at, recipient_id")

    async def wait_rows(
        self, query: str, until: Callable[[Any], bool], *args: Any, what: str = "rows"
    ) -> Any:
        async def probe() -> Any:
            return await self.fetchval(query, *args)

        return await eventually(probe, until, timeout=30, what=what)

    async def processed(self, envelopes: list[Envelope[Any]]) -> None:
        """Wait until the service has consumed these envelopes (their ids are in its inbox)."""
        ids = [e.event_id for e in envelopes]
        await self.wait_rows(
            "SELECT count(*) FROM kit_processed_events WHERE event_id = ANY($1::uuid[])",
            lambda n: n == len(ids),
            ids,
            what=f"{len(ids)} events consumed",
        )

    async def tick(self) -> Any:
        assert self.parts.scheduler is not None
        return await self.parts.scheduler.tick()

    def client(self) -> httpx.AsyncClient:
        assert self.runtime.api is not None
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.runtime.api), base_url="http://test")

    def token(self, user_id: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(user_id, roles=roles)}"}


StartService = Callable[..., Awaitable[Notifications]]


@pytest.fixture
async def notifications(
    settings_for: Callable[..., Any], new_database: Callable[[str], Any], smtp: SmtpSink
) -> AsyncIterator[StartService]:
    """Call to start the service: ``await notifications(clock=..., rules=..., **settings overrides)``.

    Defaults for tests: fast retries, the sender loop on, the scheduler loop off (tests call ``tick()``).
    Calling it again with ``database_url=first.settings.database_url`` is a restart on the same database.
    """
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm", algorithm="ES256")
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            clock: Any = None, rules: Rules | None = None, parts: set[str] | None = None, **overrides: Any
        ) -> Notifications:
            values: dict[str, Any] = {
                "database_url": overrides.pop("database_url", None) or await new_database("notifications"),
                "smtp_host": smtp.host,
                "smtp_port": smtp.port,
                "smtp_timeout_s": 5.0,
                "mail_from": "CRM EDESAL <crm@edesal.example>",
                "web_base_url": "https://crm.edesal.example",
                "mail_retry_backoff_s": 0.2,
                "mail_retry_backoff_max_s": 1.0,
                "smtp_reconnect_backoff_max_s": 0.5,
                "mail_poll_interval_s": 0.5,
                "scheduler_enabled": False,
                "jwt_public_key": issuer.public_pem(),
                "jwt_algorithms": ["ES256"],
            }
            values.update(overrides)
            settings = settings_for(Settings, **values)
            runtime = ServiceRuntime(define(settings, clock=clock, rules=rules))
            own = contextlib.AsyncExitStack()
            await own.enter_async_context(runtime.running(parts or {"worker", "api"}))
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
            await producer.start()
            own.push_async_callback(producer.stop)
            service = Notifications(runtime, settings, producer, issuer, own)
            stack.push_async_callback(service.stop)
            return service

        yield start

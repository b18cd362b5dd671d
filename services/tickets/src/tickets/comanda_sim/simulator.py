"""The COMANDA simulator: COMANDA's side of the contract, for tests, demos and the local stack.

It does what the COMANDA team's system does, as docs/contracts.md ("COMANDA") describes it:
- consumes ``tickets.ticket.assigned`` from ``tickets.tickets.v1`` in its own consumer group (other event
  types on that topic are skipped) and keeps each person's inbox;
- publishes ``comanda.ticket.status_changed`` to ``comanda.ticket-status.v1``: keyed by the CRM ticket id,
  envelope producer ``comanda``, a new envelope id and a unique ``comanda_event_id`` per change, and a
  per-ticket ``sequence`` starting at 1 and increasing with each change; the correlation id of the
  assignment, and the assignment's envelope id as causation.

Tests also use ``change()`` / ``send()`` to send what a misbehaving network or COMANDA could: the same
message twice, changes out of order, an explicit sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from crm_contracts.envelope import Envelope, new_envelope
from crm_contracts.events.comanda import ComandaStatus, ComandaTicketStatusChanged
from crm_contracts.events.tickets import TicketAssigned
from crm_contracts.registry import topic_for
from crmkit import kafka as _kit_kafka  # noqa: F401  (its import turns topic auto-creation off)
from crmkit.outbox import encode, record_headers
from pydantic import ValidationError

from tickets.comanda_sim.store import InboxItem, InboxStore, MemoryStore

log = logging.getLogger(__name__)
PRODUCER = "comanda"
ASSIGNMENTS_TOPIC = topic_for(TicketAssigned).name
STATUS_TOPIC = topic_for(ComandaTicketStatusChanged).name

# What a person may do in COMANDA's inbox, from each status.
ALLOWED_FROM: dict[ComandaStatus, frozenset[str]] = {
    "accepted": frozenset({"assigned", "reopened"}),
    "in_progress": frozenset({"assigned", "accepted", "reopened"}),
    "closed": frozenset({"assigned", "accepted", "in_progress", "reopened"}),
    "reopened": frozenset({"closed"}),
}


class SimulatorError(Exception):
    """A command the simulated COMANDA refuses (unknown ticket, a move its inbox does not offer)."""


class ComandaSimulator:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "",
        group: str = "comanda-sim",
        store: InboxStore | None = None,
        session_timeout_ms: int = 3000,
        heartbeat_interval_ms: int = 500,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix
        self.group = f"{topic_prefix}{group}"
        self.store: InboxStore = store if store is not None else MemoryStore()
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.on_assignment: Callable[[InboxItem], Awaitable[None] | None] | None = None

    @property
    def assignments_topic(self) -> str:
        return self.topic_prefix + ASSIGNMENTS_TOPIC

    @property
    def status_topic(self) -> str:
        return self.topic_prefix + STATUS_TOPIC

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, consume: bool = True) -> None:
        """Start publishing; and consuming assignments unless ``consume`` is false (publish-only use)."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=2, client_id="comanda-sim"
        )
        await self._producer.start()
        if consume:
            await self.start_consuming()

    async def start_consuming(self) -> None:
        if self._consumer is not None:
            return
        self._consumer = AIOKafkaConsumer(
            self.assignments_topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group,
            client_id="comanda-sim",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=20,
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def __aenter__(self) -> ComandaSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- consuming assignments -------------------------------------------------------------------------

    async def _handle(self, record: ConsumerRecord[Any, Any]) -> InboxItem | None:
        try:
            raw = json.loads(record.value)
            if not isinstance(raw, dict) or raw.get("type") != TicketAssigned.event_type:
                return None
            envelope = Envelope[TicketAssigned].model_validate(raw)
        except (ValueError, ValidationError) as exc:
            log.warning("skipping an unreadable record at %s@%d: %s", record.topic, record.offset, exc)
            return None
        item = InboxItem.from_assignment(envelope.data, envelope.event_id, envelope.correlation_id)
        if not self.store.add(item):
            return None
        if self.on_assignment is not None:
            result = self.on_assignment(item)
            if asyncio.iscoroutine(result):
                await result
        return item

    async def poll(self, timeout_ms: int = 200) -> list[InboxItem]:
        """One fetch of new assignments; returns the tickets new to the inbox."""
        consumer = self._require(self._consumer)
        async with self._lock:
            batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=2000)
            added: list[InboxItem] = []
            for records in batch.values():
                for record in records:
                    item = await self._handle(record)
                    if item is not None:
                        added.append(item)
            if batch and self.store.persistent:
                await consumer.commit()
            return added

    async def sync(self, wait_s: float = 30.0) -> list[InboxItem]:
        """Consume every assignment published so far (waits for the group to give partitions first)."""
        consumer = self._require(self._consumer)
        deadline = time.monotonic() + wait_s
        added: list[InboxItem] = []
        while not consumer.assignment():
            added += await self.poll(100)
            if time.monotonic() > deadline:
                raise TimeoutError("the simulator got no partitions from its consumer group")
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        while True:
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind:
                return added
            if time.monotonic() > deadline:
                raise TimeoutError(f"the simulator could not catch up on {behind}")
            added += await self.poll(100)

    async def wait_for(self, ticket: uuid.UUID | str, wait_s: float = 30.0) -> InboxItem:
        """The ticket once its assignment has arrived."""
        deadline = time.monotonic() + wait_s
        while (item := self.store.get(str(ticket))) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ticket {ticket} never reached COMANDA's inbox")
            await self.poll(100)
        return item

    async def run(self, stop: asyncio.Event) -> None:
        """Consume assignments until ``stop`` is set."""
        while not stop.is_set():
            await self.poll(500)

    # -- the inbox -------------------------------------------------------------------------------------

    def inbox(self, user_id: str, include_closed: bool = False) -> list[tuple[str, InboxItem]]:
        """(role, ticket) of every ticket of this person: responsible or in copy; open ones unless asked."""
        entries = [
            (role, item)
            for item in self.store.all()
            if (role := item.role_of(user_id)) is not None and (include_closed or item.is_open)
        ]
        return sorted(entries, key=lambda e: (e[1].due_date, e[1].code))

    def ticket(self, ref: uuid.UUID | str) -> InboxItem:
        item = self.store.get(str(ref))
        if item is None:
            raise SimulatorError(f"ticket {ref} is not in COMANDA (sync first?)")
        return item

    # -- publishing status changes ---------------------------------------------------------------------

    def change(
        self,
        ticket: uuid.UUID | str,
        status: ComandaStatus,
        *,
        resolution: str | None = None,
        reason: str | None = None,
        changed_by: str | None = None,
        sequence: int | None = None,
        comanda_event_id: str | None = None,
        changed_at: datetime | None = None,
        enforce: bool = False,
    ) -> Envelope[Any]:
        """Build (not send) one status change. Without ``sequence`` it takes the ticket's next one.

        ``ticket`` may be unknown to the simulator when ``sequence`` is given (a change for a ticket the
        CRM may not know yet). ``enforce`` refuses moves COMANDA's inbox would not offer.
        """
        item = self.store.get(str(ticket))
        if item is None:
            if sequence is None:
                raise SimulatorError(f"ticket {ticket} is not in COMANDA (sync first?)")
            ticket_id = uuid.UUID(str(ticket))
            correlation = causation = None
            by = changed_by
        else:
            if enforce and item.status not in ALLOWED_FROM[status]:
                raise SimulatorError(f"COMANDA cannot mark a ticket that is {item.status} as {status}")
            ticket_id = item.ticket_id
            correlation, causation = item.correlation_id, item.assignment_event_id
            by = changed_by or item.responsible_id
            if sequence is None:
                sequence = item.sequence + 1
            if sequence > item.sequence:  # the newest change of the ticket decides its status
                item = replace(item, sequence=sequence, status=status)
            self.store.put(item)
        event = ComandaTicketStatusChanged(
            comanda_event_id=comanda_event_id or f"cmd-{uuid.uuid4().hex}",
            ticket_id=ticket_id,
            sequence=sequence,
            status=status,
            changed_at=changed_at or datetime.now(UTC),
            changed_by=by,
            resolution=resolution,
            reason=reason,
        )
        return new_envelope(event, producer=PRODUCER, correlation_id=correlation, causation_id=causation)

    async def send(self, envelope: Envelope[Any]) -> Any:
        """Publish an envelope built by ``change`` (again, to simulate a retry: same event id). Returns the
        broker's record metadata (partition, offset)."""
        producer = self._require(self._producer)
        env = envelope
        headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, env.correlation_id)
        return await producer.send_and_wait(
            self.status_topic, encode(envelope), key=envelope.partition_key.encode(), headers=headers
        )

    async def publish(self, ticket: uuid.UUID | str, status: ComandaStatus, **kwargs: Any) -> Envelope[Any]:
        """Change a ticket and publish the change; if it cannot be published, the inbox stays as it was
        (the change did not happen as far as anyone else can tell, and it may be made again)."""
        before = self.store.get(str(ticket))
        envelope = self.change(ticket, status, **kwargs)
        try:
            await self.send(envelope)
        except BaseException:
            if before is not None:
                self.store.put(before)
            raise
        return envelope

    async def accept(self, ticket: uuid.UUID | str, *, by: str | None = None) -> Envelope[Any]:
        return await self.publish(ticket, "accepted", changed_by=by, enforce=True)

    async def start_work(self, ticket: uuid.UUID | str, *, by: str | None = None) -> Envelope[Any]:
        return await self.publish(ticket, "in_progress", changed_by=by, enforce=True)

    async def close(
        self, ticket: uuid.UUID | str, resolution: str, *, by: str | None = None
    ) -> Envelope[Any]:
        if not resolution.strip():
            raise SimulatorError("COMANDA requires a resolution to close a ticket")
        return await self.publish(ticket, "closed", resolution=resolution, changed_by=by, enforce=True)

    async def reopen(self, ticket: uuid.UUID | str, reason: str, *, by: str | None = None) -> Envelope[Any]:
        return await self.publish(ticket, "reopened", reason=reason, changed_by=by, enforce=True)

    @staticmethod
    def _require(client: Any) -> Any:
        if client is None:
            raise RuntimeError("the simulator is not started")
        return client

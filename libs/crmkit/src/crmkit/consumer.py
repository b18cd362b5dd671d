"""The idempotent consumer: at-least-once delivery in, exactly-once effect out.

For every batch of records the consumer
1. decodes each record; one that is not JSON, not an envelope, or fails its event schema goes to the
   dead-letter topic at once (it can never succeed);
2. applies the rest in ONE transaction, recording each event id in ``kit_processed_events`` in the same
   transaction as its effect, so a redelivered event has no second effect;
3. if that transaction fails for a reason other than the infrastructure, applies the records one by one,
   retrying a failing one with backoff and dead-lettering it after ``consumer_max_attempts``;
4. returns, and only then are the offsets committed (the FastStream subscriber uses NACK_ON_ERROR: an
   exception, e.g. the database is down, seeks back to the first record of the batch and nothing is
   committed past it).

Handlers receive a ``Delivery``: the typed event, the connection of the open transaction, and ``emit`` to
write follow-up events to the outbox in that same transaction.

One option skips step 2's record: ``on_batch(..., deduplicate=False)``, for a state topic whose handler is
idempotent by itself (an upsert keyed by the aggregate where the newest version wins, so applying an event
twice leaves what applying it once left). Its events are not written to ``kit_processed_events``: a
redelivered one is applied again, harmlessly. Everything else (dead letters, one transaction per batch,
offsets committed after it) is unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from crm_contracts.envelope import Envelope, EventModel
from crm_contracts.registry import TOPICS, Topic, deadletter_topic
from pydantic import ValidationError

from crmkit import context, metrics
from crmkit.db import DATABASE_UNAVAILABLE, Connection
from crmkit.outbox import Outbox
from crmkit.settings import KitSettings

log = logging.getLogger(__name__)

E = TypeVar("E", bound=EventModel)

# Errors that say "the world is unavailable", not "this message is bad": never dead-letter for these;
# leave the batch uncommitted and try again until the database or broker is back.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    *DATABASE_UNAVAILABLE,
    KafkaError,
)


class PoisonMessage(Exception):
    """Raised by a handler for an event that can never be applied; it is dead-lettered without retries."""


@dataclass
class Delivery(Generic[E]):
    envelope: Envelope[E]
    conn: Connection
    outbox: Outbox
    topic: str
    partition: int
    offset: int

    @property
    def event(self) -> E:
        return self.envelope.data

    async def emit(self, *events: EventModel) -> list[Envelope[Any]]:
        """Write follow-up events to the outbox, in this delivery's transaction, caused by this event."""
        return await self.outbox.add_many(
            self.conn,
            events,
            causation_id=self.envelope.event_id,
            correlation_id=self.envelope.correlation_id or self.envelope.event_id,
        )


Handler = Callable[[Delivery[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Delivery[Any]]], Awaitable[None]]


@dataclass(frozen=True)
class _Entry:
    model: type[EventModel]
    handler: Handler | BatchHandler
    batch: bool
    # False: the handler makes a redelivery harmless itself; no kit_processed_events row per event.
    deduplicate: bool = True
    # Envelope[model], built once: looking a parametrized generic up costs more than validating a record.
    envelope_model: type[Envelope[Any]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "envelope_model", Envelope[self.model])


class Subscriptions:
    """What one service consumes: event type -> handler. Declared next to the handlers.

    ``on`` handlers get one delivery at a time. ``on_batch`` handlers get every consecutive fresh delivery
    of their types in a batch at once (in order, deduplicated, in the batch's transaction), so they can
    write with one statement instead of one per event: the way to reach high throughput.
    """

    def __init__(self) -> None:
        # event type -> schema version -> entry: during a migration both versions of a type are consumed.
        self.handlers: dict[str, dict[int, _Entry]] = {}

    def _register(
        self, models: tuple[type[EventModel], ...], handler: Any, batch: bool, deduplicate: bool = True
    ) -> None:
        for model in models:
            versions = self.handlers.setdefault(model.event_type, {})
            if model.version in versions:
                raise ValueError(f"two handlers for {model.event_type} v{model.version}")
            versions[model.version] = _Entry(model, handler, batch, deduplicate)

    def on(self, *models: type[EventModel]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._register(models, handler, batch=False)
            return handler

        return register

    def on_batch(
        self, *models: type[EventModel], deduplicate: bool = True
    ) -> Callable[[BatchHandler], BatchHandler]:
        """``deduplicate=False``: only for a handler whose effect is the same however often an event is
        applied, in any batch, and that keeps the newest state when an older event comes again (an upsert
        by aggregate id guarded by the source's version or timestamp). Its events get no
        ``kit_processed_events`` row: that insert costs about as much as a set-based upsert, and for a
        state topic (every event carries the whole state of its key) it protects nothing."""

        def register(handler: BatchHandler) -> BatchHandler:
            self._register(models, handler, batch=True, deduplicate=deduplicate)
            return handler

        return register

    def topics(self, registry: Sequence[Topic] = TOPICS) -> list[Topic]:
        wanted = {entry.model for versions in self.handlers.values() for entry in versions.values()}
        return [topic for topic in registry if wanted.intersection(topic.events)]


@dataclass
class _Decoded:
    record: ConsumerRecord[Any, Any]
    envelope: Envelope[Any] | None = None
    entry: _Entry | None = None
    error: str | None = None  # set: dead-letter at once

    @property
    def ignored(self) -> bool:
        return self.envelope is None and self.error is None


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    dead_letter_reasons: list[str] = field(default_factory=list)


class EventConsumer:
    def __init__(
        self,
        settings: KitSettings,
        pool: asyncpg.Pool,
        subscriptions: Subscriptions,
        outbox: Outbox,
        dlq_producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.dlq_producer = dlq_producer
        self.name = settings.service_name
        self.dlq_topic = settings.topic(deadletter_topic(settings.service_name))
        self._infra_backoff = 0.1

    # -- decoding -------------------------------------------------------------------------------------

    def decode(self, record: ConsumerRecord[Any, Any]) -> _Decoded:
        """Classify one record. With the ``event_type`` and ``schema_version`` headers (which every producer
        of the contract writes) a record of a type this service does not consume is skipped unparsed and
        the others are parsed once, by pydantic's JSON parser; without them the body is inspected."""
        hinted = self._decode_by_headers(record)
        if hinted is not None:
            return hinted
        try:
            raw = json.loads(record.value)
        except (TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _Decoded(record, error=f"not JSON: {type(exc).__name__}: {exc}")
        if not isinstance(raw, dict):
            return _Decoded(record, error="not an event envelope: top level is not an object")
        event_type = raw.get("type")
        if not isinstance(event_type, str):
            return _Decoded(record, error="not an event envelope: missing `type`")
        versions = self.subscriptions.handlers.get(event_type)
        if versions is None:
            return _Decoded(record)  # an event this service does not consume
        version = raw.get("schema_version")
        entry = versions.get(version) if isinstance(version, int) else None
        if entry is None:
            return _Decoded(record, error=f"unsupported schema_version {version!r} of {event_type}")
        try:
            envelope = entry.envelope_model.model_validate(raw)
        except ValidationError as exc:
            return _Decoded(record, error=f"schema violation for {event_type}: {_brief(exc)}")
        return _Decoded(record, envelope=envelope, entry=entry)

    def _decode_or_reject(self, record: ConsumerRecord[Any, Any]) -> _Decoded:
        """Decoding touches nothing but the record: whatever it raises is the record's fault, so the record
        is dead-lettered. Raising here would fail the whole batch, and every retry would fail the same way."""
        try:
            return self.decode(record)
        except Exception as exc:
            log.warning(
                "undecodable record %s[%d]@%d", record.topic, record.partition, record.offset, exc_info=True
            )
            return _Decoded(record, error=f"undecodable: {type(exc).__name__}: {exc}")

    def _decode_by_headers(self, record: ConsumerRecord[Any, Any]) -> _Decoded | None:
        event_type = version = None
        for key, value in record.headers or ():
            if key == "event_type":
                event_type = value
            elif key == "schema_version":
                version = value
        if event_type is None or version is None or record.value is None:
            return None
        try:
            type_name, version_number = event_type.decode(), int(version)
        except (UnicodeDecodeError, ValueError):
            return None
        versions = self.subscriptions.handlers.get(type_name)
        if versions is None:
            return _Decoded(record)  # an event this service does not consume
        entry = versions.get(version_number)
        if entry is None:
            return None  # let the body speak; an unknown version is dead-lettered there
        try:
            envelope = entry.envelope_model.model_validate_json(record.value)
        except ValidationError as exc:
            if any(err["type"] == "json_invalid" for err in exc.errors()):
                return _Decoded(record, error=f"not JSON: {exc.errors()[0]['msg']}")
            return _Decoded(record, error=f"schema violation for {type_name}: {_brief(exc)}")
        if envelope.type != type_name or envelope.schema_version != version_number:
            return _Decoded(record, error="the event_type/schema_version headers disagree with the envelope")
        return _Decoded(record, envelope=envelope, entry=entry)

    # -- processing -----------------------------------------------------------------------------------

    async def process_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]], consumer: AIOKafkaConsumer | None = None
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        decoded = [self._decode_or_reject(record) for record in records]
        try:
            applicable = [d for d in decoded if d.envelope is not None]
            try:
                if applicable:
                    await self._apply_together(applicable, outcome)
                one_by_one = False
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception:
                log.info("batch of %d failed; applying one by one", len(applicable), exc_info=True)
                outcome, one_by_one = BatchOutcome(), True
            for item in decoded:
                if item.error is not None:
                    await self._dead_letter(item.record, item.error, attempts=1, outcome=outcome)
                elif item.ignored:
                    outcome.ignored += 1
                    metrics.CONSUMED.labels(item.record.topic, "ignored").inc()
                elif one_by_one:
                    await self._apply_alone(item, outcome)
        except INFRASTRUCTURE_ERRORS as exc:
            # Nothing is committed; the subscriber seeks back and the batch comes again after a pause.
            log.warning("infrastructure unavailable (%s); batch will be retried", type(exc).__name__)
            await asyncio.sleep(self._infra_backoff)
            self._infra_backoff = min(self._infra_backoff * 2, self.settings.consumer_retry_backoff_max_s)
            raise
        self._infra_backoff = 0.1
        if consumer is not None:
            self._observe_lag(records, consumer)
        return outcome

    async def _apply_together(self, items: list[_Decoded], outcome: BatchOutcome) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [item.envelope.event_id for item in items if item.envelope and _deduplicated(item)]
            fresh = (
                {
                    row["event_id"]
                    for row in await conn.fetch(
                        """INSERT INTO kit_processed_events (consumer, event_id)
                           SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id""",
                        self.name,
                        ids,
                    )
                }
                if ids
                else set()
            )
            counts = {"applied": 0, "duplicate": 0}
            fresh_items: list[_Decoded] = []
            for item in items:
                assert item.envelope is not None
                if not _deduplicated(item):
                    fresh_items.append(item)  # idempotent by itself: applied again when redelivered
                    counts["applied"] += 1
                elif item.envelope.event_id in fresh:
                    fresh.discard(item.envelope.event_id)  # a duplicate inside the same batch applies once
                    fresh_items.append(item)
                    counts["applied"] += 1
                else:
                    counts["duplicate"] += 1
            await self._call(fresh_items, conn)
        outcome.applied += counts["applied"]
        outcome.duplicates += counts["duplicate"]
        topic = items[0].record.topic
        metrics.CONSUMED.labels(topic, "applied").inc(counts["applied"])
        metrics.CONSUMED.labels(topic, "duplicate").inc(counts["duplicate"])

    async def _apply_alone(self, item: _Decoded, outcome: BatchOutcome) -> None:
        assert item.envelope is not None
        attempts = 0
        delay = self.settings.consumer_retry_backoff_s
        while True:
            attempts += 1
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    claimed = not _deduplicated(item) or await conn.fetchval(
                        """INSERT INTO kit_processed_events (consumer, event_id) VALUES ($1, $2)
                           ON CONFLICT DO NOTHING RETURNING true""",
                        self.name,
                        item.envelope.event_id,
                    )
                    if claimed:
                        await self._call([item], conn)
                if claimed:
                    outcome.applied += 1
                    metrics.CONSUMED.labels(item.record.topic, "applied").inc()
                else:
                    outcome.duplicates += 1
                    metrics.CONSUMED.labels(item.record.topic, "duplicate").inc()
                return
            except INFRASTRUCTURE_ERRORS:
                raise
            except PoisonMessage as exc:
                await self._dead_letter(item.record, f"rejected: {exc}", attempts, outcome)
                return
            except Exception as exc:
                if attempts >= self.settings.consumer_max_attempts:
                    error = f"handler failed {attempts} times: {type(exc).__name__}: {exc}"
                    log.error("dead-lettering %s: %s", item.envelope.event_id, error, exc_info=True)
                    await self._dead_letter(
                        item.record, error, attempts, outcome, trace=traceback.format_exc()
                    )
                    return
                metrics.HANDLER_RETRIES.labels(item.record.topic).inc()
                log.warning("handler failed (attempt %d): %s; retrying in %.2fs", attempts, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.consumer_retry_backoff_max_s)

    async def _call(self, items: list[_Decoded], conn: Connection) -> None:
        """Run the handlers in record order; consecutive items of one batch handler go in one call."""
        i = 0
        while i < len(items):
            entry = items[i].entry
            assert entry is not None
            j = i + 1
            if entry.batch:
                while j < len(items) and items[j].entry is entry:
                    j += 1
            run = items[i:j]
            deliveries = [self._delivery(item, conn) for item in run]
            first = run[0].envelope
            assert first is not None
            token_c = context.correlation_id.set(first.correlation_id or first.event_id)
            token_k = context.causation_id.set(first.event_id)
            try:
                if entry.batch:
                    await entry.handler(deliveries)  # type: ignore[arg-type]
                else:
                    await entry.handler(deliveries[0])  # type: ignore[arg-type]
            finally:
                context.correlation_id.reset(token_c)
                context.causation_id.reset(token_k)
            i = j

    def _delivery(self, item: _Decoded, conn: Connection) -> Delivery[Any]:
        assert item.envelope is not None
        record = item.record
        return Delivery(item.envelope, conn, self.outbox, record.topic, record.partition, record.offset)

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        error: str,
        attempts: int,
        outcome: BatchOutcome,
        trace: str | None = None,
    ) -> None:
        """Publish the original record, untouched, with the reason in headers; wait for the broker's ack."""
        headers = list(record.headers or ())
        headers += [
            ("dlq.error", error[:4000].encode()),
            ("dlq.consumer", self.name.encode()),
            ("dlq.topic", record.topic.encode()),
            ("dlq.partition", str(record.partition).encode()),
            ("dlq.offset", str(record.offset).encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        if trace:
            headers.append(("dlq.trace", trace[-4000:].encode()))
        try:
            await self.dlq_producer.send_and_wait(
                self.dlq_topic, value=record.value, key=record.key, headers=headers
            )
        except MessageSizeTooLargeError:
            # The record with the reasons does not fit in a produce request. Retrying can never help (the
            # batch would come back forever, the partition stuck behind it): dead-letter the reasons and
            # where the record is; the record itself stays at its offset in its own topic.
            size = len(record.value or b"") + len(record.key or b"")
            headers = [(k, v) for k, v in headers if k.startswith("dlq.")]
            headers.append(
                ("dlq.value_omitted", f"{size} bytes; read it at dlq.topic/partition/offset".encode())
            )
            await self.dlq_producer.send_and_wait(self.dlq_topic, value=b"", key=None, headers=headers)
        outcome.dead_lettered += 1
        outcome.dead_letter_reasons.append(error)
        metrics.DEAD_LETTERS.labels(record.topic).inc()
        metrics.CONSUMED.labels(record.topic, "dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error[:300])

    def _observe_lag(self, records: Sequence[ConsumerRecord[Any, Any]], consumer: AIOKafkaConsumer) -> None:
        # Keyed by a plain tuple: one TopicPartition per partition, not one per record (a thousand a batch).
        last: dict[tuple[str, int], int] = {}
        for record in records:
            last[record.topic, record.partition] = record.offset
        for (topic, partition), offset in last.items():
            highwater = consumer.highwater(TopicPartition(topic, partition))
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(topic, str(partition)).set(max(0, highwater - offset - 1))


def _deduplicated(item: _Decoded) -> bool:
    return item.entry is None or item.entry.deduplicate


def _brief(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)

"""Malformed and hostile records on every topic every service consumes: dead-lettered, nothing crashes.

For each (service, consumed topic) pair of the registry, a raw aiokafka producer writes hostile records
onto one partition, then a valid event after them. Each hostile record must end in
``deadletter.<service>.v1`` with the original topic and offset and the reason (``dlq.error``), the valid
event after them must be applied (the partition moved on: nothing is stuck behind a poison record), and
the service must still answer ``/readyz``.

One deliberate exception: an envelope of a type the service does not consume (including a type no
contract knows) is skipped, not dead-lettered. Topics carry several event types for several consumers, and
a producer may add a type before its consumers learn it (docs/messaging.md); dead-lettering those would
fill the dead-letter topics with records that are not wrong. The test proves it is skipped and that the
partition moves on past it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from contracts.examples import example_event
from crm_contracts.envelope import EventModel, new_envelope
from crm_contracts.registry import TOPICS, Topic
from crmkit.deadletter import DeadLetter, read_dead_letters
from crmkit.outbox import encode, record_headers
from eventually import eventually
from system.fuzz_support import System, running_system

pytestmark = pytest.mark.integration

CONSUMERS = ("attentions", "tickets", "notifications", "reports")
PARTS = {name: {"api", "worker"} for name in CONSUMERS}
PARTITION = 0


def consumed() -> list[tuple[str, Topic, type[EventModel]]]:
    """(service, topic, an event type the service applies from it) for every consumed topic."""
    from attentions.handlers import subscriptions as attentions_subscriptions
    from notifications.handlers import build_subscriptions
    from notifications.service import define as define_notifications
    from reports.handlers import subscriptions as reports_subscriptions
    from tickets.handlers import subscriptions as tickets_subscriptions

    notifications_subscriptions = define_notifications().subscriptions
    assert build_subscriptions  # the notifications service builds its subscriptions in define()
    pairs = []
    for service, subscriptions in (
        ("attentions", attentions_subscriptions),
        ("tickets", tickets_subscriptions),
        ("notifications", notifications_subscriptions),
        ("reports", reports_subscriptions),
    ):
        for topic in subscriptions.topics(TOPICS):
            model = next(m for m in topic.events if m.event_type in subscriptions.handlers)
            pairs.append((service, topic, model))
            DEDUPLICATED[(service, topic.name)] = subscriptions.handlers[model.event_type][
                model.version
            ].deduplicate
    return pairs


# A handler consumed with deduplicate=False records no event ids (kit_processed_events): that its event was
# applied shows in the group's committed offset instead, which moves only after the effect is durable.
DEDUPLICATED: dict[tuple[str, str], bool] = {}
PAIRS = consumed()


def test_every_consumer_of_the_registry_is_covered() -> None:
    """The registry's consumers that exist as services here are exactly the pairs this file attacks."""
    covered = {(service, topic.name) for service, topic, _ in PAIRS}
    declared = {(c, t.name) for t in TOPICS for c in t.consumers if c in CONSUMERS}
    # A declared consumer that subscribes to nothing on a topic yet (tickets and the staff topic) is not a
    # consumer in fact; every pair that is consumed in fact must be declared.
    assert covered <= declared, covered - declared
    assert {s for s, _ in covered} == set(CONSUMERS)


@dataclass(frozen=True)
class Hostile:
    name: str
    value: bytes | None
    key: bytes | None = b"k"
    headers: tuple[tuple[str, bytes], ...] = ()
    expect: frozenset[str] = frozenset({"dead"})  # "dead" (dead-lettered), "applied", "ignored"
    reason: str = ""  # expected in dlq.error


def envelope_json(model: type[EventModel], **changes: Any) -> dict[str, Any]:
    event = example_event(model)
    envelope = json.loads(encode(new_envelope(event, producer="mallory")))
    for path, value in changes.items():
        target = envelope
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return dict(envelope)


def with_text(model: type[EventModel], text: Callable[[str], str]) -> dict[str, Any]:
    """A valid envelope whose free-text fields (those still valid when changed) are ``text(old)``."""
    envelope = envelope_json(model)
    data = envelope["data"]
    for name, value in list(data.items()):
        if not isinstance(value, str):
            continue
        candidate = {**data, name: text(value)}
        try:
            model.model_validate(candidate)
        except ValueError:
            continue
        data = candidate
    envelope["data"] = data
    return envelope


def headers_of(envelope: dict[str, Any]) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        record_headers(envelope["event_id"], envelope["type"], envelope["schema_version"], "mallory", None)
    )


OVERSIZED = "larger than a produce request"


def hostile_records(model: type[EventModel], broker_takes_oversized: bool) -> list[Hostile]:
    def raw(envelope: dict[str, Any]) -> bytes:
        return json.dumps(envelope).encode()

    valid = envelope_json(model)
    unknown = {**valid, "type": "mallory.unknown.v1", "event_id": str(uuid.uuid4())}
    wrong_data = envelope_json(model, data={"unexpected": True})
    other_type = next(m for t in TOPICS for m in t.events if m is not model)
    disagree = envelope_json(model)
    disagree_headers = tuple(record_headers(disagree["event_id"], other_type.event_type, 1, "mallory", None))
    nul = with_text(model, lambda old: old + "\x00")
    huge = with_text(model, lambda old: old + "A" * 100_000)
    return [
        Hostile("invalid JSON", b'{"type": "x", ', reason="not JSON"),
        Hostile("empty value", b"", reason="not JSON"),
        Hostile("tombstone (no value)", None, reason="not JSON"),
        Hostile("not UTF-8", b"\xff\xfe\x00garbage", reason="not JSON"),
        Hostile("raw NUL byte inside JSON", b'{"type": "a\x00b"}', reason="not JSON"),
        Hostile("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, reason="not JSON"),
        Hostile("JSON array", b"[1, 2, 3]", reason="not an event envelope"),
        Hostile("JSON string", b'"hello"', reason="not an event envelope"),
        Hostile("object without type", b'{"event_id": 1}', reason="missing `type`"),
        Hostile("type not a string", b'{"type": ["x"]}', reason="missing `type`"),
        Hostile(
            "unsupported schema version",
            raw(envelope_json(model, schema_version=999)),
            reason="unsupported schema_version",
        ),
        Hostile(
            "schema version not an int",
            raw(envelope_json(model, schema_version="1; DROP TABLE x")),
            reason="unsupported schema_version",
        ),
        Hostile("payload breaks its schema", raw(wrong_data), reason="schema violation"),
        Hostile(
            "payload breaks its schema (typed headers)",
            raw(wrong_data),
            headers=headers_of(wrong_data),
            reason="schema violation",
        ),
        Hostile("missing key", raw(wrong_data), key=None, reason="schema violation"),
        Hostile(
            "envelope without event id",
            raw({k: v for k, v in valid.items() if k != "event_id"}),
            reason="schema violation",
        ),
        Hostile(
            "headers disagree with the body",
            raw(disagree),
            headers=disagree_headers if other_type.event_type != model.event_type else (),
            # Headers naming a type this service does not consume: the record is skipped unparsed.
            expect=frozenset({"dead", "ignored"}),
        ),
        Hostile(
            "headers of the wrong types",
            b"{not json",
            headers=(("event_type", b"\xff\xfe"), ("schema_version", b"\x00\x01"), ("event_id", b"\xff")),
            reason="not JSON",
        ),
        Hostile(
            "instant before year 1 in UTC",
            raw(envelope_json(model, occurred_at="0001-01-01T00:00:00+00:09")),
            expect=frozenset({"dead", "applied"}),
        ),
        Hostile("NUL in every text field", raw(nul), expect=frozenset({"dead", "applied"})),
        Hostile("100 KB strings", raw(huge), expect=frozenset({"dead", "applied"})),
        Hostile("type no contract knows", raw(unknown), expect=frozenset({"ignored"})),
        # Apache Kafka refuses it at produce (message.max.bytes); a broker that takes it must not leave the
        # consumer unable to dead-letter it (the dead letter goes without the value, see crmkit.consumer).
        *([Hostile(OVERSIZED, b"x" * 1_100_000, reason="not JSON")] if broker_takes_oversized else []),
    ]


@pytest.fixture(scope="module")
async def system(infra) -> AsyncIterator[System]:
    async with running_system(infra, services=CONSUMERS, parts=PARTS) as system:
        yield system


@pytest.fixture(scope="module")
async def producer(infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def committed_past(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    """Whether ``group`` committed an offset past ``offset`` on the test's partition of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partition = TopicPartition(topic, PARTITION)
        offsets = await admin.list_consumer_group_offsets(group, partitions=[partition])
    finally:
        await admin.close()
    committed = offsets.get(partition)
    return committed is not None and committed.offset > offset


def event_id_of(value: bytes | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(json.loads(value or b"")["event_id"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


@pytest.mark.parametrize(("service", "topic", "model"), PAIRS, ids=[f"{s}:{t.name}" for s, t, _ in PAIRS])
async def test_hostile_records_are_dead_lettered_and_the_partition_moves_on(
    system: System, producer: AIOKafkaProducer, service: str, topic: Topic, model: type[EventModel]
) -> None:
    settings = system.runtimes[service].settings
    name = settings.topic(topic.name)
    sent: dict[int, Hostile] = {}
    for hostile in hostile_records(model, broker_takes_oversized=not system.infra.kafka_is_apache):
        meta = await producer.send_and_wait(
            name, hostile.value, key=hostile.key, headers=list(hostile.headers), partition=PARTITION
        )
        sent[meta.offset] = hostile
    sentinel = new_envelope(example_event(model), producer="attentions")
    sentinel_meta = await producer.send_and_wait(
        name,
        encode(sentinel),
        key=sentinel.partition_key.encode(),
        headers=record_headers(sentinel.event_id, sentinel.type, sentinel.schema_version, "attentions", None),
        partition=PARTITION,
    )

    async def applied(event_id: uuid.UUID, offset: int) -> bool:
        if not DEDUPLICATED[(service, topic.name)]:
            return await committed_past(system.infra.kafka, settings.consumer_group, name, offset)
        return bool(
            await system.fetchval(
                service, "SELECT count(*) FROM kit_processed_events WHERE event_id = $1", event_id
            )
        )

    await eventually(
        lambda: applied(sentinel.event_id, sentinel_meta.offset),
        timeout=60,
        what=f"{service} applied the event after the hostile ones",
    )

    async def letters() -> list[DeadLetter]:
        return [
            d
            for d in await read_dead_letters(settings, service)
            if d.header("dlq.topic") == name and d.header("dlq.partition") == str(PARTITION)
        ]

    found = {int(d.header("dlq.offset") or -1): d for d in await letters()}
    outcomes: dict[str, str] = {}
    for offset, hostile in sent.items():
        letter = found.get(offset)
        if letter is not None:
            outcome = "dead"
            if hostile.name == OVERSIZED:
                assert letter.value == b"" and letter.header("dlq.value_omitted"), letter.headers
            else:
                assert letter.value == hostile.value, hostile.name  # the original record, untouched
            error = letter.header("dlq.error") or ""
            assert hostile.reason in error, (hostile.name, error)
        else:
            event_id = event_id_of(hostile.value)
            if DEDUPLICATED[(service, topic.name)]:
                outcome = "applied" if event_id and await applied(event_id, offset) else "ignored"
            else:
                # No record of which ids were applied: only that it was not dead-lettered is observable.
                outcome = "applied or ignored"
        outcomes[hostile.name] = outcome
        assert set(outcome.split(" or ")) & hostile.expect, (hostile.name, outcome, hostile.expect)
    print(service, topic.name, outcomes)

    ready = await system.client(service).get("/readyz")
    assert ready.status_code == 200, ready.text
    assert datetime.now(UTC)  # the service answered after all of it

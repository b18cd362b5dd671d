"""How the consumer classifies records before any I/O (unit tests, no broker, no database)."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import ConsumerRecord
from crm_contracts.envelope import new_envelope
from crmkit.consumer import Delivery, EventConsumer, Subscriptions
from crmkit.settings import KitSettings
from kit.pingpong import Pinged


class PingedV2(Pinged):
    version = 2
    priority: int


def _record(value: bytes, headers: tuple[tuple[str, bytes], ...] = ()) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t", 0, 0, 0, 0, b"k", value, None, 1, len(value), headers)


def _hinted(value: bytes, event_type: str = "kit_test.pinged", version: int = 1) -> ConsumerRecord[Any, Any]:
    return _record(value, (("event_type", event_type.encode()), ("schema_version", str(version).encode())))


def _consumer(subs: Subscriptions) -> EventConsumer:
    return EventConsumer(KitSettings(service_name="unit"), None, subs, None, None)  # type: ignore[arg-type,unused-ignore]


def _both_versions() -> Subscriptions:
    subs = Subscriptions()

    async def handle(delivery: Delivery[Any]) -> None:
        return None

    subs.on(Pinged, PingedV2)(handle)
    return subs


def test_both_versions_of_an_event_are_consumed_during_a_migration():
    consumer = _consumer(_both_versions())
    v1 = new_envelope(Pinged(aggregate="a", seq=1), producer="p")
    v2 = new_envelope(PingedV2(aggregate="a", seq=1, priority=3), producer="p")
    d1 = consumer.decode(_record(v1.model_dump_json().encode()))
    d2 = consumer.decode(_record(v2.model_dump_json().encode()))
    assert d1.error is None and d1.envelope is not None and type(d1.envelope.data) is Pinged
    assert d2.error is None and d2.envelope is not None and d2.envelope.data.priority == 3


def test_an_unknown_version_of_a_consumed_type_is_a_dead_letter():
    consumer = _consumer(_both_versions())
    raw = json.loads(new_envelope(Pinged(aggregate="a", seq=1), producer="p").model_dump_json())
    raw["schema_version"] = 7
    decoded = consumer.decode(_record(json.dumps(raw).encode()))
    assert decoded.error == "unsupported schema_version 7 of kit_test.pinged"


def test_an_event_type_the_service_does_not_consume_is_ignored_not_dead_lettered():
    consumer = _consumer(Subscriptions())
    decoded = consumer.decode(
        _record(new_envelope(Pinged(aggregate="a", seq=1), producer="p").model_dump_json().encode())
    )
    assert decoded.ignored and decoded.error is None


def test_an_additive_field_from_a_newer_producer_is_accepted():
    consumer = _consumer(_both_versions())
    raw = json.loads(new_envelope(Pinged(aggregate="a", seq=1), producer="p").model_dump_json())
    raw["data"]["added_later"] = "ignored"
    raw["new_envelope_field"] = 1
    decoded = consumer.decode(_record(json.dumps(raw).encode()))
    assert decoded.error is None


def test_records_that_can_never_be_applied_are_dead_letters_at_once():
    consumer = _consumer(_both_versions())
    assert (consumer.decode(_record(b"\xff\xfe")).error or "").startswith("not JSON")
    assert (consumer.decode(_record(b"[1, 2]")).error or "").startswith("not an event envelope")
    assert (consumer.decode(_record(b'{"data": {}}')).error or "").endswith("missing `type`")


def test_headers_let_the_consumer_skip_types_it_does_not_consume_without_parsing():
    consumer = _consumer(_both_versions())
    decoded = consumer.decode(_hinted(b"not even json", event_type="someone.else.happened"))
    assert decoded.ignored


def test_with_headers_a_record_is_parsed_once_and_checked_against_them():
    consumer = _consumer(_both_versions())
    v2 = new_envelope(PingedV2(aggregate="a", seq=1, priority=3), producer="p").model_dump_json().encode()
    good = consumer.decode(_hinted(v2, version=2))
    assert good.error is None and good.envelope is not None and good.envelope.data.priority == 3
    liar = consumer.decode(_hinted(v2, version=1))
    assert liar.error is not None and liar.envelope is None
    assert (consumer.decode(_hinted(b"{broken")).error or "").startswith("not JSON")
    raw = json.loads(v2)
    raw["data"]["seq"] = -1
    bad = consumer.decode(_hinted(json.dumps(raw).encode(), version=2))
    assert (bad.error or "").startswith("schema violation for kit_test.pinged: data.seq")

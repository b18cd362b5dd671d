"""``on_batch(..., deduplicate=False)``: events of a state topic applied without a kit_processed_events row,
on the real broker and database. Everything but the dedupe record stays: bad records are dead letters, a
failing event is retried then dead-lettered, the effect commits before the offsets."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts.envelope import new_envelope
from crmkit.consumer import Delivery, Subscriptions
from crmkit.deadletter import read_dead_letters
from crmkit.runtime import ServiceDefinition, ServiceRuntime
from eventually import eventually
from kit.pingpong import HERE, PINGS, REGISTRY, Pinged

pytestmark = pytest.mark.integration


def state_consumer(settings, deduplicate: bool) -> ServiceDefinition:
    subs = Subscriptions()

    @subs.on_batch(Pinged, deduplicate=deduplicate)
    async def record_effects(deliveries: list[Delivery[Pinged]]) -> None:
        if any(d.event.note == "fail" for d in deliveries):
            raise RuntimeError("handler bug for this ping")
        # Deliberately not idempotent (effects has no unique key): every application shows as a row.
        await deliveries[0].conn.executemany(
            "INSERT INTO effects (event_id, aggregate, seq) VALUES ($1, $2, $3)",
            [(d.envelope.event_id, d.event.aggregate, d.event.seq) for d in deliveries],
        )

    return ServiceDefinition(
        name="ponger",
        settings=settings.model_copy(update={"service_name": "ponger"}),
        migrations=[HERE / "ponger_migrations"],
        subscriptions=subs,
        registry=REGISTRY,
    )


async def _fetchval(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _send(settings, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(settings.topic(PINGS.name), value, key=key)
    finally:
        await producer.stop()


def _ping(aggregate: str, seq: int, note: str = "") -> tuple[bytes, bytes]:
    envelope = new_envelope(Pinged(aggregate=aggregate, seq=seq, note=note), producer="pinger")
    return aggregate.encode(), envelope.model_dump_json().encode()


@pytest.mark.parametrize("deduplicate", [False, True], ids=["no-dedupe-record", "default"])
async def test_a_state_topic_handler_runs_without_dedupe_records_and_keeps_the_other_guarantees(
    settings_for, new_database, deduplicate
):
    dsn = await new_database("ponger")
    runtime = ServiceRuntime(
        state_consumer(
            settings_for(
                database_url=dsn,
                consumer_max_attempts=2,
                consumer_retry_backoff_s=0.05,
                consumer_retry_backoff_max_s=0.1,
            ),
            deduplicate,
        )
    )
    pings = [_ping(f"agg-{i % 3}", i) for i in range(20)]
    invalid = json.loads(pings[0][1])
    invalid["data"]["seq"] = -1  # fails the event's schema
    bad = [(b"agg-0", json.dumps(invalid).encode()), _ping("agg-1", 99, note="fail")]
    async with runtime.running({"worker"}):
        await _send(runtime.settings, [*pings, *bad])
        await eventually(lambda: _fetchval(dsn, "SELECT count(*) FROM effects"), lambda n: n == 20, what="20")
        letters = await eventually(
            lambda: read_dead_letters(runtime.settings, "ponger"), lambda d: len(d) == 2, what="2 letters"
        )
        errors = sorted(d.summary()["error"] for d in letters)
        assert errors[0].startswith("handler failed 2 times") and errors[1].startswith("schema violation")

        # The same records again, as after a commit lost in a crash.
        await _send(runtime.settings, [*pings, _ping("marker", 100)])
        await eventually(
            lambda: _fetchval(dsn, "SELECT count(*) FROM effects WHERE aggregate = 'marker'"),
            lambda n: n == 1,
            what="the marker after the repeats",
        )
        applied = await _fetchval(dsn, "SELECT count(*) FROM effects")
        recorded = await _fetchval(dsn, "SELECT count(*) FROM kit_processed_events")
    if deduplicate:
        assert (applied, recorded) == (21, 21)  # the repeats were dropped by their recorded ids
    else:
        assert (applied, recorded) == (41, 0)  # applied again: the handler must be idempotent itself

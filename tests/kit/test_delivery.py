"""The messaging kit on the real broker and database: outbox -> relay -> idempotent consumer."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts.registry import deadletter_topic
from crmkit.relay import OutboxRelay
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from kit.helpers import effect_counts, read_topic
from kit.pingpong import PINGS, REGISTRY, Pinged, pinger, ponger, write_ping

pytestmark = pytest.mark.integration


async def _unpublished(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"))
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("batch_handler", "consumers"),
    [(False, 1), (True, 1), (True, 2)],
    ids=["per-event", "batch", "2-consumers"],
)
async def test_event_written_through_outbox_is_consumed_once_by_another_service(
    settings_for, new_database, batch_handler, consumers
):
    pinger_rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"))))
    ponger_db = await new_database("ponger")
    ponger_rt = ServiceRuntime(
        ponger(settings_for(database_url=ponger_db, consumer_concurrency=consumers), batch=batch_handler)
    )
    async with pinger_rt.running({"relay"}), ponger_rt.running({"worker"}):
        async with pinger_rt.pool.acquire() as conn:
            for seq in range(50):
                await write_ping(conn, pinger_rt.outbox, f"agg-{seq % 5}", seq)
        counts = await eventually(lambda: effect_counts(ponger_db), lambda c: len(c) == 50, what="50 effects")
        assert set(counts.values()) == {1}

        # The same records delivered again (a redelivery after a lost commit) have no second effect.
        records = await read_topic(pinger_rt.settings, PINGS.name, expect=50)
        producer = AIOKafkaProducer(bootstrap_servers=pinger_rt.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            for r in records:
                await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
            await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
            marker = Pinged(aggregate="agg-0", seq=999)
            async with pinger_rt.pool.acquire() as conn:
                await write_ping(conn, pinger_rt.outbox, marker.aggregate, marker.seq)
        finally:
            await producer.stop()
        counts = await eventually(
            lambda: effect_counts(ponger_db), lambda c: len(c) == 51, what="the marker after the duplicates"
        )
        assert set(counts.values()) == {1}, "a redelivered event had a second effect"


async def test_an_event_larger_than_a_producer_batch_is_still_delivered_in_order(settings_for, new_database):
    pinger_rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"))))
    ponger_db = await new_database("ponger")
    ponger_rt = ServiceRuntime(ponger(settings_for(database_url=ponger_db)))
    async with pinger_rt.running({"relay"}), ponger_rt.running({"worker"}):
        async with pinger_rt.pool.acquire() as conn:
            await write_ping(conn, pinger_rt.outbox, "big", 0)
            await write_ping(conn, pinger_rt.outbox, "big", 1, note="x" * 300_000)
            await write_ping(conn, pinger_rt.outbox, "big", 2)
        await eventually(lambda: effect_counts(ponger_db), lambda c: len(c) == 3, what="3 effects")
        conn = await asyncpg.connect(ponger_db)
        try:
            seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM effects ORDER BY id")]
        finally:
            await conn.close()
        assert seqs == [0, 1, 2]


async def test_state_and_event_commit_together(settings_for, new_database):
    """A rolled-back change leaves no event behind; a committed one always has its event."""
    rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"))))
    async with rt.running(set()):
        async with rt.pool.acquire() as conn:
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():
                    await rt.outbox.add(conn, Pinged(aggregate="a", seq=1))
                    await conn.execute("INSERT INTO pings (aggregate, seq) VALUES ('a', 1), ('a', 1)")
            assert await conn.fetchval("SELECT count(*) FROM kit_outbox") == 0
            await write_ping(conn, rt.outbox, "a", 1)
            assert await conn.fetchval("SELECT count(*) FROM kit_outbox") == 1
        with pytest.raises(RuntimeError, match="inside the transaction"):
            async with rt.pool.acquire() as conn:
                await rt.outbox.add(conn, Pinged(aggregate="a", seq=2))


async def test_poison_messages_are_dead_lettered_and_the_partition_moves_on(settings_for, new_database):
    ponger_db = await new_database("ponger")
    rt = ServiceRuntime(ponger(settings_for(database_url=ponger_db, consumer_max_attempts=3)))
    async with rt.running({"worker"}):
        settings = rt.settings
        topic = settings.topic(PINGS.name)
        good = rt.outbox.envelope(Pinged(aggregate="k", seq=1))
        bad_schema = rt.outbox.envelope(Pinged(aggregate="k", seq=2)).model_dump(mode="json")
        bad_schema["data"]["seq"] = "not a number"
        rejected = rt.outbox.envelope(Pinged(aggregate="k", seq=3, note="reject"))
        failing = rt.outbox.envelope(Pinged(aggregate="k", seq=4, note="fail"))
        after = rt.outbox.envelope(Pinged(aggregate="k", seq=5))
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            # All on one key, so all on one partition, in this order.
            for value in (
                good.model_dump_json().encode(),
                b"{not json",
                json.dumps(bad_schema).encode(),
                json.dumps({"hello": "no envelope"}).encode(),
                rejected.model_dump_json().encode(),
                failing.model_dump_json().encode(),
                after.model_dump_json().encode(),
            ):
                await producer.send_and_wait(topic, value, key=b"k", headers=[("origin", b"test")])
        finally:
            await producer.stop()

        counts = await eventually(lambda: effect_counts(ponger_db), lambda c: len(c) == 2, what="2 effects")
        assert set(counts) == {str(good.event_id), str(after.event_id)}
        letters = await read_topic(settings, deadletter_topic("ponger"), expect=5)
        assert len(letters) == 5
        letters.sort(key=lambda r: int(dict(r.headers)["dlq.offset"]))
        errors = [dict(r.headers)["dlq.error"].decode() for r in letters]
        assert errors[0].startswith("not JSON")
        assert errors[1].startswith("schema violation for kit_test.pinged: data.seq")
        assert "missing `type`" in errors[2]
        assert errors[3].startswith("rejected: this ping is never acceptable")
        assert errors[4].startswith("handler failed 3 times: RuntimeError")
        for r in letters:
            headers = dict(r.headers)
            assert headers["origin"] == b"test", "original headers are kept"
            assert headers["dlq.topic"].decode() == topic
            assert r.key == b"k"
        assert dict(letters[4].headers)["dlq.attempts"] == b"3"
        assert dict(letters[0].headers)["dlq.attempts"] == b"1"


async def test_two_relays_keep_per_key_order_and_publish_each_event_once(settings_for, new_database):
    dsn = await new_database("pinger")
    definition = pinger(settings_for(database_url=dsn, relay_batch_size=100))
    rt = ServiceRuntime(definition)
    async with rt.running(set()):
        first = OutboxRelay(rt.settings, topics=REGISTRY)
        second = OutboxRelay(rt.settings, topics=REGISTRY)
        tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
        try:
            await eventually(lambda: _leaders(first, second), lambda n: n == 1, what="one leader")

            async def write(writer: int) -> None:
                async with rt.pool.acquire() as conn:
                    for seq in range(300):
                        await write_ping(conn, rt.outbox, f"key-{writer}", seq)

            writers = [asyncio.create_task(write(w)) for w in range(8)]
            await asyncio.sleep(0)
            # Take the leader away mid-stream: the standby must take over without reordering.
            await eventually(lambda: _published(dsn), lambda n: n > 300, what="some published")
            leader = first if first.is_leader else second
            leader.stop()
            await asyncio.gather(*writers)
            await eventually(lambda: _unpublished(dsn), lambda n: n == 0, what="everything published")
            assert (second if leader is first else first).is_leader
        finally:
            first.stop()
            second.stop()
            await asyncio.gather(*tasks)

        records = await read_topic(rt.settings, PINGS.name, expect=2400)
        ids = [json.loads(r.value)["event_id"] for r in records]
        assert len(ids) == 2400 and len(set(ids)) == 2400, "every event published exactly once"
        by_key: dict[str, list[int]] = defaultdict(list)
        for r in records:
            data = json.loads(r.value)["data"]
            by_key[data["aggregate"]].append(data["seq"])
        assert all(seqs == list(range(300)) for seqs in by_key.values()), "per-key order kept"


async def _leaders(*relays: OutboxRelay) -> int:
    return sum(1 for r in relays if r.is_leader)


async def _published(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NOT NULL"))
    finally:
        await conn.close()


async def test_an_idle_relay_woken_by_a_commit_lingers_and_sends_what_came_meanwhile_in_one_batch(
    settings_for, new_database
):
    """Single-row commits arriving one after another, as API requests do: with ``relay_linger_ms`` the
    relay reads once after the first NOTIFY and sends them together (one read, one send, one mark), not
    one by one (without it: ten batches of one)."""
    dsn = await new_database("pinger")
    rt = ServiceRuntime(pinger(settings_for(database_url=dsn, relay_linger_ms=1000)))
    async with rt.running(set()):
        relay = OutboxRelay(rt.settings, topics=REGISTRY)
        batches: list[int] = []
        start_batch = relay._start_batch

        async def counted(rows):
            batches.append(len(rows))
            return await start_batch(rows)

        relay._start_batch = counted
        task = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: _leaders(relay), lambda n: n == 1, what="the relay leads")
            async with rt.pool.acquire() as conn:
                for seq in range(10):
                    await write_ping(conn, rt.outbox, f"k{seq}", seq)  # its own transaction and NOTIFY
                    await asyncio.sleep(0.01)  # commits spread over ~0.1 s, well inside the linger
            await eventually(lambda: _unpublished(dsn), lambda n: n == 0, what="all published")
        finally:
            relay.stop()
            await task
    assert batches == [10]

"""Messaging kit benchmark: outbox relay and idempotent consumer beside raw aiokafka on the same broker.

    python3 -m uv run python benchmarks/kit_bench.py [--events 50000]

Measures, in one run against one broker and one PostgreSQL:
- raw aiokafka produce (1 KB, acks=all) and raw consume in a group: the limits;
- relay throughput: outbox rows (1 KB events) already committed -> acknowledged by the broker;
- commit-to-consumer latency at low load: a transaction writes an event every 10 ms, a plain consumer
  receives it; p50/p99 of (received - committed);
- idempotent consume throughput: records on the topic -> effects committed in PostgreSQL (one row each,
  deduplicated through kit_processed_events), one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import broker, scratch_database, summary_ms, write_results
from crmkit.kafka import ensure_topics
from crmkit.outbox import record_headers
from crmkit.relay import OutboxRelay
from crmkit.runtime import ServiceRuntime
from crmkit.settings import KitSettings
from kit.pingpong import PINGS, REGISTRY, Pinged, pinger, ponger

NOTE = "x" * 900  # with the envelope, about 1 KB per record


async def raw_produce(bootstrap: str, topic: str, n: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144)
    await producer.start()
    value = json.dumps({"note": NOTE, "pad": "y" * 60}).encode()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=f"k{i % 64}".encode()) for i in range(n)]
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        seen = 0
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        started = time.perf_counter()
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            seen += sum(len(v) for v in batch.values())
            await consumer.commit()
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def relay_throughput(settings: KitSettings, n: int) -> tuple[float, float]:
    """(steady-state rate from the marks' timestamps, rate including the relay's start-up)."""
    rt = ServiceRuntime(pinger(settings))
    async with rt.running(set()):
        async with rt.pool.acquire() as conn:
            for start in range(0, n, 5000):
                async with conn.transaction():
                    await rt.outbox.add_many(
                        conn,
                        [
                            Pinged(aggregate=f"k{i % 64}", seq=i, note=NOTE)
                            for i in range(start, min(n, start + 5000))
                        ],
                    )
        relay = OutboxRelay(rt.settings, topics=REGISTRY)
        started = time.perf_counter()
        task = asyncio.create_task(relay.run())
        async with rt.pool.acquire() as conn:
            while await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"):
                await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        relay.stop()
        await task
        async with rt.pool.acquire() as conn:
            first, last = await conn.fetchrow("SELECT min(published_at), max(published_at) FROM kit_outbox")
        # Rows marked in the first batch carry its timestamp: the span covers the other rows.
        steady = (n - settings.relay_batch_size) / (last - first).total_seconds()
        return steady, n / elapsed


async def commit_to_consumer_latency(settings: KitSettings, samples: int) -> dict[str, float]:
    rt = ServiceRuntime(pinger(settings))
    topic = settings.topic(PINGS.name)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"lat-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=10,
    )
    committed: dict[int, float] = {}
    latencies: list[float] = []
    async with rt.running({"relay"}):
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()

        async def receive() -> None:
            while len(latencies) < samples:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        seq = json.loads(r.value)["data"]["seq"]
                        latencies.append(now - committed[seq])

        receiver = asyncio.create_task(receive())
        async with rt.pool.acquire() as conn:
            for seq in range(samples):
                async with conn.transaction():
                    await rt.outbox.add(conn, Pinged(aggregate=f"k{seq % 8}", seq=seq, note=NOTE))
                committed[seq] = time.perf_counter()
                await asyncio.sleep(0.01)
        await asyncio.wait_for(receiver, 30)
        await consumer.stop()
    return summary_ms(latencies)


async def idempotent_consume(settings: KitSettings, n: int, batch: bool) -> float:
    producer_settings = settings.model_copy(update={"service_name": "pinger"})
    await ensure_topics(producer_settings, REGISTRY)
    rt_prod = ServiceRuntime(pinger(settings))
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5, max_batch_size=262_144
    )
    await producer.start()
    futures = []
    for i in range(n):
        env = rt_prod.outbox.envelope(Pinged(aggregate=f"k{i % 64}", seq=i, note=NOTE))
        # As the relay publishes them: with the envelope's ids in headers.
        headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, env.correlation_id)
        futures.append(
            await producer.send(
                settings.topic(PINGS.name),
                env.model_dump_json().encode(),
                key=env.partition_key.encode(),
                headers=headers,
            )
        )
    await asyncio.gather(*futures)
    await producer.stop()
    rt = ServiceRuntime(ponger(settings, batch=batch))
    await rt.start({"worker"})
    conn = await asyncpg.connect(settings.database_url)
    try:
        # Timed from the first effect, so the consumer group join is not counted.
        while not await conn.fetchval("SELECT count(*) FROM effects"):
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        first = await conn.fetchval("SELECT count(*) FROM effects")
        while await conn.fetchval("SELECT count(*) FROM effects") < n:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        n -= first
    finally:
        await conn.close()
        await rt.stop()
    return n / elapsed


async def main(n: int) -> None:
    with broker() as bootstrap:
        base = KitSettings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=f"b{uuid.uuid4().hex[:6]}.",
            consumer_session_timeout_ms=3000,
            consumer_heartbeat_interval_ms=500,
            log_level="WARNING",
            log_json=False,
        )
        raw_topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
        await ensure_topics(base.model_copy(update={"topic_prefix": ""}), [(raw_topic, 3)])
        produce = await raw_produce(bootstrap, raw_topic, n)
        consume = await raw_consume(bootstrap, raw_topic, n)
        print(f"raw produce {produce:,.0f}/s, raw consume {consume:,.0f}/s")
        async with scratch_database("relay") as dsn:
            relay, relay_with_startup = await relay_throughput(
                base.model_copy(update={"database_url": dsn, "topic_prefix": "r." + base.topic_prefix}), n
            )
        print(f"relay {relay:,.0f}/s steady, {relay_with_startup:,.0f}/s with start-up")
        async with scratch_database("latency") as dsn:
            latency = await commit_to_consumer_latency(
                base.model_copy(update={"database_url": dsn, "topic_prefix": "l." + base.topic_prefix}), 1000
            )
        print(f"latency {latency}")
        async with scratch_database("consume") as dsn:
            idem = await idempotent_consume(
                base.model_copy(update={"database_url": dsn, "topic_prefix": "c." + base.topic_prefix}),
                n,
                True,
            )
        print(f"idempotent consume (batch handler) {idem:,.0f}/s")
        async with scratch_database("consume1") as dsn:
            idem1 = await idempotent_consume(
                base.model_copy(update={"database_url": dsn, "topic_prefix": "d." + base.topic_prefix}),
                n,
                False,
            )
        print(f"idempotent consume (per-event handler) {idem1:,.0f}/s")
    results = {
        "events": n,
        "raw_produce_per_s": round(produce),
        "raw_consume_per_s": round(consume),
        "relay_per_s": round(relay),
        "relay_ratio_to_raw_produce": round(relay / produce, 3),
        "relay_with_startup_per_s": round(relay_with_startup),
        "commit_to_consumer_latency": latency,
        "idempotent_consume_per_s": round(idem),
        "idempotent_ratio_to_raw_consume": round(idem / consume, 3),
        "idempotent_consume_per_event_handler_per_s": round(idem1),
    }
    print(json.dumps(results, indent=2))
    print(f"written to {write_results('kit', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().events))

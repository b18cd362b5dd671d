"""Helpers for the messaging kit tests: raw reads of topics, counts of effects."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from crmkit.settings import KitSettings


async def read_topic(settings: KitSettings, logical: str, expect: int, timeout: float = 30) -> list[Any]:
    """Every record of a topic (all partitions, from the start), waiting until at least ``expect`` arrived."""
    topic = settings.topic(logical)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions: set[int] = set()
        deadline = asyncio.get_running_loop().time() + timeout
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"topic {topic} never appeared")
            if not partitions:
                await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        # Anything beyond the expectation (duplicates) must be seen too.
        with contextlib.suppress(Exception):
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def effect_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT event_id::text AS id, count(*) AS n FROM effects GROUP BY event_id")
        return {r["id"]: r["n"] for r in rows}
    finally:
        await conn.close()

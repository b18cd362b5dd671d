"""Reading and replaying dead letters.

A dead letter is the original record (value, key, headers) plus ``dlq.*`` headers: the error, the consumer,
the original topic, partition and offset, the attempts and when it failed. Replaying publishes the original
value, key and headers back to the original topic; every consumer group deduplicates by event id, so groups
that had already applied the event are not affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from crm_contracts.registry import deadletter_topic

from crmkit.kafka import make_producer
from crmkit.settings import KitSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith("dlq.")]

    def summary(self) -> dict[str, Any]:
        return {
            "dlq_offset": f"{self.partition}:{self.offset}",
            "topic": self.header("dlq.topic"),
            "source": f"{self.header('dlq.partition')}:{self.header('dlq.offset')}",
            "event_id": self.header("event_id"),
            "event_type": self.header("event_type"),
            "attempts": self.header("dlq.attempts"),
            "failed_at": self.header("dlq.failed_at"),
            "error": self.header("dlq.error"),
        }


async def read_dead_letters(settings: KitSettings, service: str, timeout_s: float = 10) -> list[DeadLetter]:
    """Everything currently in a service's dead-letter topic, without joining a consumer group."""
    topic = settings.topic(deadletter_topic(service))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    letters.append(DeadLetter(r.partition, r.offset, r.key, r.value, tuple(r.headers or ())))
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(
    settings: KitSettings, service: str, only: Collection[str] | None = None
) -> list[DeadLetter]:
    """Publish dead letters back to their original topics. ``only``: "partition:offset" of the letters."""
    letters = await read_dead_letters(settings, service)
    chosen = [d for d in letters if only is None or f"{d.partition}:{d.offset}" in only]
    producer = make_producer(settings)
    await producer.start()
    try:
        for letter in chosen:
            topic = letter.header("dlq.topic")
            if not topic:
                continue
            if letter.header("dlq.value_omitted"):
                # Too large to be kept here: its original is at dlq.topic/partition/offset.
                log.warning(
                    "dead letter %s:%s holds no record; not replayed", letter.partition, letter.offset
                )
                continue
            headers = [
                *letter.original_headers,
                ("dlq.replayed_from", f"{letter.partition}:{letter.offset}".encode()),
            ]
            await producer.send_and_wait(topic, value=letter.value, key=letter.key, headers=headers)
    finally:
        await producer.stop()
    return chosen

"""Reproduces a Tansu 0.6.0 (memory storage) defect: after a restart, a producer that still knows a topic's
metadata gets acknowledgements for records sent to a topic the broker no longer has; the records are gone,
and creating the topic afterwards shows it empty. Apache Kafka answers UNKNOWN_TOPIC_OR_PARTITION instead.
See docs/messaging.md ("A memory broker (Tansu) restarts empty").

    python3 -m uv run python scripts/tansu_produce_to_missing_topic.py
"""

from __future__ import annotations

import asyncio
import socket

import crmkit.kafka  # noqa: F401  (no client of this script asks the broker to auto-create a topic)
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from crmkit.localstack import tansu_command

TOPIC = "quirk.topic"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 6, 1)])
    finally:
        await admin.close()


async def read_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        if TOPIC not in await consumer.topics():
            return []
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        idle = 0
        while idle < 4:
            batch = await consumer.getmany(timeout_ms=250)
            idle = 0 if batch else idle + 1
            values += [r.value for records in batch.values() for r in records if r.value is not None]
        return sorted(values)
    finally:
        await consumer.stop()


async def main() -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = await asyncio.create_subprocess_exec(*tansu_command(port))
    await asyncio.sleep(1.5)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    try:
        await create(bootstrap)
        await producer.start()
        for i in range(6):
            await producer.send_and_wait(TOPIC, f"before-{i}".encode(), partition=i)
        print("before the restart, the topic holds:", await read_all(bootstrap))
        broker.terminate()
        await broker.wait()
        broker = await asyncio.create_subprocess_exec(*tansu_command(port))
        await asyncio.sleep(1.5)
        for i in range(6):
            meta = await asyncio.wait_for(
                producer.send_and_wait(TOPIC, f"after-{i}".encode(), partition=i), 10
            )
            print(f"after the restart, acknowledged at partition {meta.partition} offset {meta.offset}")
        print("the restarted broker holds:", await read_all(bootstrap))
        await create(bootstrap)
        print("once the topic is created again, it holds:", await read_all(bootstrap))
    finally:
        await producer.stop()
        broker.terminate()
        await broker.wait()


if __name__ == "__main__":
    asyncio.run(main())

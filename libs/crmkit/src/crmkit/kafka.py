"""Kafka clients configured so that a service author cannot pick a default that loses messages."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from crm_contracts.registry import Topic

from crmkit.settings import KitSettings

log = logging.getLogger(__name__)


def _never_auto_create_topics() -> None:
    """Make every aiokafka client in this process ask for metadata without auto-creating topics.

    aiokafka has no setting for it and always asks the broker to create a missing topic it looks up.
    Production brokers run with auto-creation off; the Tansu memory broker honours the flag but creates by
    default, with 4 partitions. After a Tansu restart the first client to look a topic up would otherwise
    recreate it with the wrong partition count before the kit recreates it from the registry.
    """
    import aiokafka.client as client_module
    from aiokafka.protocol.metadata import MetadataRequest

    if getattr(client_module.MetadataRequest, "_crm_no_auto_create", False):
        return

    class _NoAutoCreateMetadataRequest(MetadataRequest):
        _crm_no_auto_create = True

        def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None):
            super().__init__(
                topics, False if allow_auto_topic_creation is None else allow_auto_topic_creation
            )

    client_module.MetadataRequest = _NoAutoCreateMetadataRequest


_never_auto_create_topics()


def producer_options(settings: KitSettings) -> dict[str, object]:
    """acks=all always; idempotence only where the broker supports it (Apache Kafka, not Tansu)."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": settings.kafka_acks,
        "enable_idempotence": settings.kafka_idempotence,
        "linger_ms": 5,
        "max_batch_size": 262_144,
        "request_timeout_ms": 15_000,
        "client_id": f"{settings.service_name}-producer",
    }


def make_producer(settings: KitSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_options(settings))


async def ensure_topics(settings: KitSettings, topics: Iterable[Topic | tuple[str, int]]) -> list[str]:
    """Create the given topics (with their partitions and configs) when missing. Returns the created names.

    Topics are always created explicitly: auto-created ones get the broker's default partition count.
    """
    wanted: dict[str, NewTopic] = {}
    for topic in topics:
        if isinstance(topic, Topic):
            name = settings.topic(topic.name)
            wanted[name] = NewTopic(
                name,
                topic.partitions,
                settings.topic_replication_factor,
                topic_configs=topic.kafka_configs(),
            )
        else:
            name = settings.topic(topic[0])
            wanted[name] = NewTopic(name, topic[1], settings.topic_replication_factor)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [new for name, new in wanted.items() if name not in existing]
        created: list[str] = []
        for new in missing:
            try:
                await admin.create_topics([new])
                created.append(new.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def missing_topics(settings: KitSettings, names: Iterable[str]) -> list[str]:
    return (await broker_view(settings, names))[1]


async def broker_view(settings: KitSettings, names: Iterable[str]) -> tuple[str | None, list[str]]:
    """The cluster id, and which of ``names`` the broker does not have (one admin client)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5_000)
    await admin.start()
    try:
        cluster_id = (await admin.describe_cluster()).get("cluster_id")
        existing = set(await admin.list_topics())
        return cluster_id, [name for name in names if name not in existing]
    finally:
        await admin.close()


async def end_offsets(settings: KitSettings, names: Iterable[str]) -> dict[tuple[str, int], int]:
    """The end offset of every partition of the given (existing) topics, from a fresh client."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, request_timeout_ms=5_000
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        if not tps:
            return {}
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()

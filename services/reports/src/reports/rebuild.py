"""Rebuild of the read model from scratch: ``python -m reports rebuild``.

1. truncate every read-model table (the rollups too) and the consumer's processed-events records (one
   transaction);
2. replay every consumed topic from its first offset up to the end offsets taken at the start, through the
   same idempotent consumer and handlers the worker uses (a plain consumer without a group: nothing of the
   service's group is touched, and the replay ends by itself). The rollups' triggers maintain them as the
   rows come back, as in normal operation.

Every consumed topic keeps its records forever (retention -1) or is compacted per key
(factelec.supply-points.v1), so the topics hold the whole history. A worker running meanwhile is harmless:
the handlers converge in any order and each event applies once (the processed-events records are shared by
both); reports read during the replay are partial.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from crm_contracts.registry import TOPICS, Topic
from crmkit.consumer import EventConsumer, Subscriptions
from crmkit.db import create_pool, migrate
from crmkit.kafka import make_producer
from crmkit.outbox import Outbox

from reports.handlers import subscriptions as reports_subscriptions
from reports.service import MIGRATIONS
from reports.settings import Settings
from reports.store.projection import truncate

log = logging.getLogger(__name__)


async def rebuild(settings: Settings, pool: asyncpg.Pool | None = None) -> int:
    """Truncate and replay; returns the number of records read. The read model is emptied only once the
    broker answered and the partitions are assigned: a rebuild that cannot read leaves it as it was."""
    own_pool = pool is None
    if pool is None:
        await migrate(settings.database_url, [MIGRATIONS])
        pool = await create_pool(settings.database_url, max_size=4)
    try:
        return await replay(settings, pool, reset=True)
    finally:
        if own_pool:
            await pool.close()


async def replay(
    settings: Settings,
    pool: asyncpg.Pool,
    subscriptions: Subscriptions = reports_subscriptions,
    registry: Sequence[Topic] = TOPICS,
    reset: bool = False,
) -> int:
    """Apply every record of the consumed topics (after emptying the read model when ``reset``)."""
    names = [settings.topic(t.name) for t in subscriptions.topics(registry)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_poll_records=settings.consumer_max_records,
    )
    dlq = make_producer(settings)
    try:
        await consumer.start()
        await dlq.start()
        known = await consumer.topics()  # fetches the cluster's metadata
        missing = [name for name in names if name not in known]
        if missing:
            raise RuntimeError(f"cannot rebuild: topics {missing} are missing")
        partitions = [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        if reset:
            async with pool.acquire() as conn, conn.transaction():
                await truncate(conn, settings.service_name)
        # The listed end offsets are a lower bound only: the Tansu broker answers ListOffsets with less than
        # the real end when a partition holds multi-record batches. So read every record, and stop once each
        # partition has passed its listed end and a fetch comes back empty (the topics are quiet).
        ends = await consumer.end_offsets(partitions)
        behind = {tp for tp, end in ends.items() if end > 0}
        applier = EventConsumer(
            settings, pool, subscriptions, Outbox(settings.service_name, settings.topic_prefix), dlq
        )
        read = 0
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=settings.consumer_max_records)
            for records in batches.values():
                if records:
                    await applier.process_batch(records)
                    read += len(records)
            for tp in list(behind):
                if await consumer.position(tp) >= ends[tp]:
                    behind.discard(tp)
            if not behind and not any(batches.values()):
                break
        log.info("read model rebuilt from %d records of %d partitions", read, len(partitions))
        return read
    finally:
        await consumer.stop()
        await dlq.stop()

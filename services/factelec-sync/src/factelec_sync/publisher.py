"""Publishing straight to the topic: acks=all, per-partition order kept, one future per batch of rows.

The rows of a page are split by partition with Kafka's default partitioner (murmur2 of the key, as the
Java client and the kit's relay do, so a replayed dead letter lands on the same partition), appended to
one record batch per partition in page order, and handed to the producer. aiokafka keeps one batch per
partition in flight and sends them in order, so the records of a NIC reach its partition in the order the
source returned them. The returned future resolves when the broker acknowledged every record of the page
(acks=all); only then may the watermark move past the page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from crm_contracts.events.factelec import SupplyPointUpserted
from crm_contracts.registry import topic_for
from crmkit.kafka import producer_options

from factelec_sync.domain.events import OutgoingRecord
from factelec_sync.settings import Settings

SUPPLY_POINTS_TOPIC = topic_for(SupplyPointUpserted)
STOP_TIMEOUT_S = 15.0


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(SUPPLY_POINTS_TOPIC.name)
        self._producer: AIOKafkaProducer | None = None
        self._partitions: list[int] = []
        self._partitioner = DefaultPartitioner()

    async def start(self) -> None:
        options = producer_options(self.settings)
        options["client_id"] = f"{self.settings.service_name}-sync"
        options["max_batch_size"] = self.settings.factelec_producer_max_batch_bytes
        options["max_request_size"] = max(
            int(str(options.get("max_request_size", 1_048_576))),
            self.settings.factelec_producer_max_batch_bytes + 65_536,
        )
        producer = AIOKafkaProducer(**options)
        try:
            await producer.start()
            self._partitions = sorted(await producer.partitions_for(self.topic))
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        if not self._partitions:
            await producer.stop()
            raise RuntimeError(f"topic {self.topic} has no partitions")
        self._producer = producer

    async def stop(self) -> None:
        """Flush what is queued (a graceful end) and close; bounded, for a broker that is gone."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), STOP_TIMEOUT_S)

    def partition_of(self, key: bytes) -> int:
        return int(self._partitioner(key, self._partitions, self._partitions))

    async def publish(self, records: Sequence[OutgoingRecord]) -> asyncio.Future[Any]:
        """Hand the records to the producer; the result resolves when the broker acknowledged them all."""
        producer = self._producer
        if producer is None:
            raise RuntimeError("the publisher is not started")
        futures: list[asyncio.Future[Any]] = []
        builders: dict[int, Any] = {}
        for record in records:
            partition = self.partition_of(record.key)
            builder = builders.get(partition)
            if builder is None:
                builder = builders[partition] = producer.create_batch()
            if (
                builder.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)
                is None
            ):
                # Full: send it, start the next batch of this partition with this record.
                futures.append(await producer.send_batch(builder, self.topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                if (
                    builder.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)
                    is None
                ):
                    raise ValueError(f"a record of {len(record.value)} bytes does not fit in a batch")
        for partition, builder in builders.items():
            futures.append(await producer.send_batch(builder, self.topic, partition=partition))
        return asyncio.gather(*futures)

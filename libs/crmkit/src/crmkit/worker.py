"""The event worker: a FastStream KafkaBroker whose one subscriber feeds the idempotent consumer.

Every setting that loses or reorders messages by default is fixed here, once:
- ``ack_policy=NACK_ON_ERROR``: offsets are committed only after a batch is durably applied (or
  dead-lettered); an exception seeks back instead of moving on (the default ACK_FIRST auto-commits);
- ``auto_offset_reset="earliest"``: a new consumer group starts from the beginning, not from "now";
- ``batch=True``: one database transaction per batch, for throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from crm_contracts.registry import TOPICS, Topic, deadletter_topic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from crmkit.consumer import EventConsumer, Subscriptions
from crmkit.kafka import broker_view, end_offsets, ensure_topics, make_producer
from crmkit.outbox import Outbox
from crmkit.settings import KitSettings

log = logging.getLogger(__name__)


async def _no_decoding(message: StreamMessage[Any]) -> None:
    return None


def _decodable_headers(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    try:
        for _, value in record.headers or ():
            value.decode()
        return record
    except UnicodeDecodeError:
        headers = tuple((k, v.decode(errors="replace").encode()) for k, v in record.headers)
        return dataclasses.replace(record, headers=headers)


async def _parse_tolerating_binary_headers(
    records: tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[tuple[ConsumerRecord[Any, Any], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser decodes every header value as UTF-8 before the handler runs. One record with a
    binary header made the whole batch fail there, outside the acknowledgement policy: nothing was sought
    back and the batch was skipped, never applied nor dead-lettered. Its parser now sees copies with
    decodable headers; the handler still gets the original records (a dead letter keeps its headers)."""
    message = await original(tuple(_decodable_headers(r) for r in records))
    message.raw_message = records
    consumer = getattr(message, "consumer", None)
    if consumer is not None:
        message.consumer = _CommitsItsBatch(consumer, records)  # type: ignore[attr-defined]
    return message


class _CommitsItsBatch:
    """The consumer as a batch's acknowledgement sees it: ``commit()`` commits the offsets after this
    batch's records, on this batch's partitions only.

    FastStream acknowledges with the consumer's plain ``commit()``, which commits the position of every
    assigned partition. After a memory broker restarted empty, a consumer that lived through it still holds
    its old positions; the first batch acknowledged afterwards committed those stale positions for
    partitions of the new topics it had not fetched yet, and the group then skipped the new records below
    them (docs/system-proof.md, "Broker restart"). A batch commits what it handled, nothing else."""

    def __init__(self, consumer: Any, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        self._consumer = consumer
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        self._offsets = offsets

    async def commit(self) -> None:
        await self._consumer.commit(self._offsets)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._consumer.seek(partition, offset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


class _FromTheBeginning(ConsumerRebalanceListener):
    """After a memory broker restarted empty: the partitions a rebuilt consumer is first given are read
    from their beginning, whatever offsets the new broker holds for the group.

    A consumer that lived through the restart kept its old positions and, once the new partitions held that
    many records, fetched (and committed) from there, skipping the first records of the new topics. An
    offset commit from outside the group cannot undo that reliably: the broker refuses it while the group has
    members, and a member whose LeaveGroup went to the old broker stays until its session times out (the
    kit's broker-outage test lost 20 of 120 that way in CI). Seeking in the rebalance callback needs no one's
    consent; the idempotent consumer drops what was applied already. Later assignments use the committed
    offsets, which by then come from consumers that started at the beginning."""

    def __init__(self) -> None:
        self.subscriber: Any = None
        self.pending = True

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if not (self.pending and assigned and consumer is not None):
            return
        self.pending = False
        # Offset 0, not seek_to_beginning(): that one awaits the fetcher from inside the rebalance. Where the
        # log no longer starts at 0, the fetch is out of range and auto_offset_reset="earliest" applies.
        for tp in assigned:
            consumer.seek(tp, 0)
        log.warning("after a broker restart: %d partitions read from their beginning", len(assigned))


class Worker:
    """Consumes the topics of one service's subscriptions. ``restart()`` rebuilds the Kafka clients."""

    def __init__(
        self,
        settings: KitSettings,
        pool: asyncpg.Pool,
        subscriptions: Subscriptions,
        registry: Sequence[Topic] = TOPICS,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.subscriptions = subscriptions
        self.topics = subscriptions.topics(registry)
        self.topic_names = [settings.topic(t.name) for t in self.topics]
        self.outbox = Outbox(settings.service_name, settings.topic_prefix, registry)
        self.brokers: list[KafkaBroker] = []
        self._dlq_producer = make_producer(settings)
        self.consumer: EventConsumer | None = None
        self._lock = asyncio.Lock()
        self._broker_was_unreachable = False
        self._last_ends: dict[tuple[str, int], int] = {}
        self._cluster_id: str | None = None  # of the broker the consumers joined

    def _build_broker(self, from_the_beginning: bool = False) -> KafkaBroker:
        s = self.settings
        broker = KafkaBroker(
            s.kafka_bootstrap_servers,
            client_id=f"{s.service_name}-worker",
            log_level=logging.DEBUG,
            graceful_timeout=20,
        )
        consumer = self.consumer
        assert consumer is not None

        async def handle(msg: KafkaMessage) -> None:
            records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
            await consumer.process_batch(records, getattr(msg, "consumer", None))

        listener = _FromTheBeginning() if from_the_beginning else None
        subscriber = broker.subscriber(
            *self.topic_names,
            group_id=s.consumer_group,
            batch=True,
            max_records=s.consumer_max_records,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            batch_timeout_ms=s.consumer_fetch_max_wait_ms,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_interval_ms,
            include_in_schema=False,
            # The consumer decodes each record itself (and dead-letters what cannot be decoded); FastStream's
            # default would JSON-decode every record of the batch once more first.
            decoder=_no_decoding,
            parser=_parse_tolerating_binary_headers,
            listener=listener,
        )
        subscriber(handle)
        if listener is not None:
            listener.subscriber = subscriber
        return broker

    async def ensure_topics(self) -> None:
        if self.settings.create_topics:
            await ensure_topics(
                self.settings, [*self.topics, (deadletter_topic(self.settings.service_name), 1)]
            )

    async def start(self, from_the_beginning: bool = False) -> None:
        if not self.topics:
            return
        await self.ensure_topics()
        self._cluster_id = None
        with contextlib.suppress(Exception):  # if it fails, the next topology check learns it
            self._cluster_id, _ = await broker_view(self.settings, [])
        await self._dlq_producer.start()
        self.consumer = EventConsumer(
            self.settings, self.pool, self.subscriptions, self.outbox, self._dlq_producer
        )
        # Several group members in one process: while one waits for PostgreSQL another decodes. Each keeps
        # its partitions' order; handlers that touch one aggregate from two topics must lock it (they would
        # have to anyway, with several worker processes).
        self.brokers = [
            self._build_broker(from_the_beginning) for _ in range(max(1, self.settings.consumer_concurrency))
        ]
        for broker in self.brokers:
            await broker.start()

    async def stop(self) -> None:
        brokers, self.brokers = self.brokers, []
        for broker in brokers:
            with contextlib.suppress(Exception):
                await broker.stop()
        with contextlib.suppress(Exception):
            await self._dlq_producer.stop()

    async def restart(self, rewind: bool = False) -> None:
        """New Kafka clients; used when the broker lost its topics (a restarted memory broker)."""
        async with self._lock:
            log.warning("restarting the event worker")
            await self.stop()
            self._dlq_producer = make_producer(self.settings)
            await self.start(from_the_beginning=rewind)

    async def check_topology(self) -> bool:
        """True when the broker looks like the one the consumers joined; otherwise restart them.

        A restarted memory broker has lost its topics, records, groups and offsets, and long-lived
        clients of the old one stall. Signs of it: another cluster id (the local stack starts each memory
        broker with a new one); a topic is missing; the broker was unreachable since the last check; or a
        partition's end offset went down. Then the topics are recreated from the registry and the Kafka
        clients rebuilt. On Apache Kafka the same signs only cost a rebalance.

        The cluster id matters most: a short outage between two checks, with another client recreating the
        topics and filling them past the old positions, leaves no other trace, and consumers that lived
        through it would fetch from their old positions and skip the first records of the new topics.
        """
        if not self.topics:
            return True
        names = [*self.topic_names, self.settings.topic(deadletter_topic(self.settings.service_name))]
        try:
            cluster_id, missing = await broker_view(self.settings, names)
            ends = await end_offsets(self.settings, [n for n in names if n not in missing])
        except Exception:
            self._broker_was_unreachable = True
            raise
        replaced = self._cluster_id is not None and cluster_id != self._cluster_id
        self._cluster_id = self._cluster_id or cluster_id
        shrunk = [tp for tp, end in ends.items() if end < self._last_ends.get(tp, 0)]
        suspect = replaced or bool(missing) or self._broker_was_unreachable or bool(shrunk)
        self._last_ends = ends
        if not suspect:
            return True
        log.warning(
            "broker may have restarted (other cluster=%s, missing=%s, was unreachable=%s, shrunk=%s): "
            "rebuilding consumers",
            replaced,
            missing,
            self._broker_was_unreachable,
            shrunk,
        )
        # Another cluster, lost topics or lost records mean a memory broker restarted empty: start the group
        # from the beginning. A broker that was only unreachable keeps its log; rewinding would replay it all.
        await self.restart(rewind=replaced or bool(missing) or bool(shrunk))
        self._broker_was_unreachable = False
        self._last_ends = {}
        return False

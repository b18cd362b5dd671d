"""The publishing half of the outbox: one active relay per database, in id order, woken by NOTIFY.

Several instances may run for availability. Only the holder of a PostgreSQL advisory lock publishes; the
others stand by and take over when its session ends (crash, network loss), so there is never more than one
publisher reading the table. A second publisher with ``FOR UPDATE SKIP LOCKED`` would publish two events
of one key out of order.

Delivery is at least once: a relay that dies after the broker acknowledged but before marking the rows
published sends them again on takeover, and consumers drop the duplicates by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from crm_contracts.registry import TOPICS, Topic

from crmkit import idempotency, metrics
from crmkit.db import connect
from crmkit.kafka import ensure_topics, make_producer
from crmkit.outbox import NOTIFY_CHANNEL, record_headers
from crmkit.settings import KitSettings

log = logging.getLogger(__name__)

# Advisory locks are per database, and every service has its own database: one constant is enough.
RELAY_LOCK_KEY = 0x0C4_0B0C
PRUNE_EVERY_S = 60.0
PIPELINE_DEPTH = 2
_PARTITIONER = DefaultPartitioner()


@dataclass
class _Batch:
    ids: list[int]
    created: list[float]
    acks: asyncio.Future[Any]


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def _wait_any(events: Sequence[asyncio.Event], seconds: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class OutboxRelay:
    def __init__(
        self,
        settings: KitSettings,
        producer_factory: Callable[[KitSettings], AIOKafkaProducer] = make_producer,
        topics: Sequence[Topic] = TOPICS,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.producer_factory = producer_factory
        self.is_leader = False
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._last_prune = 0.0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        backoff = 0.2
        try:
            while not self._stop.is_set():
                try:
                    await self._run_once()
                    backoff = 0.2
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("relay lost its database session: %s", exc)
                    await _wait(self._stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                except Exception:
                    # Never die silently: a relay that stops means events that are never published.
                    log.exception("relay failed; starting again")
                    await _wait(self._stop, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self._set_leader(False)
            await self._close_producer()

    def _set_leader(self, value: bool) -> None:
        self.is_leader = value
        metrics.RELAY_LEADER.set(1 if value else 0)

    async def _run_once(self) -> None:
        conn = await connect(self.settings.database_url)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                if await _wait(self._stop, self.settings.relay_standby_interval_s):
                    return
            self._set_leader(True)
            log.info("relay is the active publisher")
            wake = asyncio.Event()
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            await self._publish_loop(conn, wake)
        finally:
            self._set_leader(False)
            # Closing the session releases the advisory lock for a standby relay.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _publish_loop(self, conn: asyncpg.Connection, wake: asyncio.Event) -> None:
        """Fetch, send and mark, with up to PIPELINE_DEPTH batches in flight.

        While one batch waits for its acknowledgements the next is read and handed to the producer, which
        keeps per-partition order. Each read takes the lowest unpublished ids not already in flight: if an
        event of an aggregate is sent, every earlier committed event of that aggregate has a lower id and
        was sent before or in the same batch (writers lock the aggregate, so its events commit in id
        order). Skipping past in-flight rows with an "id > last sent" cursor would break that for a row
        whose transaction committed late.
        """
        inflight: deque[_Batch] = deque()
        backoff = 0.1
        # Rows acknowledged by the broker are marked on a second connection while the next batches are
        # read and sent; at most one marking runs at a time, and its rows count as busy until it ends.
        mark_conn = await connect(self.settings.database_url)
        marking: tuple[_Batch, asyncio.Task[None]] | None = None
        try:
            while not self._stop.is_set():
                wake.clear()
                busy = {i for batch in inflight for i in batch.ids}
                if marking is not None:
                    busy.update(marking[0].ids)
                try:
                    if len(inflight) < PIPELINE_DEPTH:
                        rows = await self._next_rows(conn, busy)
                        if rows:
                            inflight.append(await self._start_batch(rows))
                            continue
                    if inflight:
                        batch = inflight.popleft()
                        await batch.acks
                        if marking is not None:
                            await marking[1]
                        marking = (batch, asyncio.create_task(self._mark_published(mark_conn, batch)))
                        backoff = 0.1
                        continue
                except (KafkaError, OSError) as exc:
                    await self._recover(exc, inflight, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if marking is not None:
                    await marking[1]
                    marking = None
                    continue
                metrics.OUTBOX_BACKLOG.set(0)
                await self._maybe_prune(conn)
                await _wait_any([wake, self._stop], self.settings.relay_poll_interval_s)
                if wake.is_set() and not self._stop.is_set() and self.settings.relay_linger_ms:
                    await _wait(self._stop, self.settings.relay_linger_ms / 1000)
            # Stopping: finish what is in flight, so a graceful stop does not cause redelivery.
            if marking is not None:
                await marking[1]
            while inflight:
                batch = inflight.popleft()
                try:
                    await asyncio.wait_for(batch.acks, 15)
                except Exception:
                    break
                await self._mark_published(mark_conn, batch)
        finally:
            if marking is not None and not marking[1].done():
                marking[1].cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(mark_conn.close(), 5)

    async def _next_rows(self, conn: asyncpg.Connection, busy: set[int]) -> list[asyncpg.Record]:
        """The lowest unpublished ids that are not in flight, then their rows (two index scans; an
        ``id <> ALL(in-flight ids)`` filter costs a comparison per pair and dominated the relay)."""
        ids = await conn.fetch(
            "SELECT id FROM kit_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self.settings.relay_batch_size + len(busy),
        )
        wanted = [r["id"] for r in ids if r["id"] not in busy][: self.settings.relay_batch_size]
        if not wanted:
            return []
        return await conn.fetch(
            # Text and epoch instead of uuid and timestamptz: decoding them costs more than the send.
            """SELECT id, topic, partition_key, event_id::text, event_type, schema_version, producer,
                      correlation_id::text, value, extract(epoch FROM created_at)::float8 AS created
               FROM kit_outbox WHERE id = ANY($1::bigint[]) ORDER BY id""",
            wanted,
        )

    async def _start_batch(self, rows: list[asyncpg.Record]) -> _Batch:
        """Hand the rows to the producer as record batches, one per partition, in row order.

        Filling aiokafka's batch builders directly (partitioned with the same murmur2 partitioner a plain
        ``send`` uses) costs about half of one ``send`` per record, which is most of the relay's CPU.
        """
        producer = await self._producer_ready()
        futures: list[asyncio.Future[Any]] = []
        open_batches: dict[tuple[str, int], Any] = {}
        partitions: dict[str, list[int]] = {}
        for row in rows:
            topic = row["topic"]
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            key = row["partition_key"].encode()
            partition = _PARTITIONER(key, partitions[topic], partitions[topic])
            headers = record_headers(
                row["event_id"],
                row["event_type"],
                row["schema_version"],
                row["producer"],
                row["correlation_id"],
            )
            builder = open_batches.get((topic, partition))
            if builder is None:
                builder = open_batches[(topic, partition)] = producer.create_batch()
            if builder.append(key=key, value=row["value"], timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = open_batches[(topic, partition)] = producer.create_batch()
                if builder.append(key=key, value=row["value"], timestamp=None, headers=headers) is None:
                    # Larger than a batch: a plain send gives it a batch of its own, still in order.
                    del open_batches[(topic, partition)]
                    futures.append(
                        await producer.send(
                            topic, value=row["value"], key=key, partition=partition, headers=headers
                        )
                    )
        for (topic, partition), builder in open_batches.items():
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        return _Batch(
            ids=[row["id"] for row in rows],
            created=[row["created"] for row in rows],
            acks=asyncio.gather(*futures),
        )

    async def _mark_published(self, conn: asyncpg.Connection, batch: _Batch) -> None:
        await conn.execute(
            "UPDATE kit_outbox SET published_at = now() WHERE id = ANY($1::bigint[])", batch.ids
        )
        now = time.time()
        for created in batch.created:
            metrics.OUTBOX_PUBLISH_LAG.observe(max(0.0, now - created))
        metrics.OUTBOX_PUBLISHED.inc(len(batch.ids))

    async def _recover(self, exc: BaseException, inflight: deque[_Batch], backoff: float) -> None:
        """After a failed send: drop what is in flight (it is sent again), new producer, topics back."""
        kind = type(exc).__name__
        metrics.RELAY_ERRORS.labels(kind).inc()
        log.warning("publishing outbox rows failed (%s); retrying in %.1fs", kind, backoff)
        for batch in inflight:
            batch.acks.cancel()
            with contextlib.suppress(BaseException):
                await batch.acks
        inflight.clear()
        # A fresh producer after a failure: long-lived clients of a restarted memory broker keep stale
        # metadata. Topics that vanished with it are recreated before the retry.
        await self._close_producer()
        await _wait(self._stop, backoff)
        topics = {self.settings.topic(t.name) for t in self.topics}
        await self._recreate_topics(topics)

    async def _producer_ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.producer_factory(self.settings)
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _recreate_topics(self, physical_names: set[str]) -> None:
        if not self.settings.create_topics:
            return
        prefix = self.settings.topic_prefix
        known = [t for t in self.topics if prefix + t.name in physical_names]
        with contextlib.suppress(Exception):
            await ensure_topics(self.settings, known)

    async def _maybe_prune(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = time.monotonic()
        await conn.execute(
            """DELETE FROM kit_outbox WHERE id IN (
                 SELECT id FROM kit_outbox
                 WHERE created_at < now() - make_interval(secs => $1) AND published_at IS NOT NULL
                 LIMIT 10000)""",
            self.settings.outbox_retention_hours * 3600,
        )
        await conn.execute(
            """DELETE FROM kit_processed_events WHERE ctid IN (
                 SELECT ctid FROM kit_processed_events
                 WHERE processed_at < now() - make_interval(secs => $1) LIMIT 10000)""",
            self.settings.inbox_retention_days * 86400,
        )
        await idempotency.prune(conn, self.settings.idempotency_retention_hours)

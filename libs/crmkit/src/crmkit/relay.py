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
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from crm_contracts.registry import TOPICS, Topic

from crmkit import metrics
from crmkit.db import connect
from crmkit.kafka import ensure_topics, make_producer
from crmkit.outbox import NOTIFY_CHANNEL
from crmkit.settings import KitSettings

log = logging.getLogger(__name__)

# Advisory locks are per database, and every service has its own database: one constant is enough.
RELAY_LOCK_KEY = 0x0C4_0B0C
PRUNE_EVERY_S = 60.0


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
        while not self._stop.is_set():
            wake.clear()
            rows = await conn.fetch(
                """SELECT id, topic, partition_key, value, headers, created_at FROM kit_outbox
                   WHERE published_at IS NULL ORDER BY id LIMIT $1""",
                self.settings.relay_batch_size,
            )
            if not rows:
                metrics.OUTBOX_BACKLOG.set(0)
                await self._maybe_prune(conn)
                await _wait_any([wake, self._stop], self.settings.relay_poll_interval_s)
                continue
            if not await self._send(rows):
                return
            await conn.execute(
                "UPDATE kit_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
            now = time.time()
            for row in rows:
                metrics.OUTBOX_PUBLISH_LAG.observe(max(0.0, now - row["created_at"].timestamp()))
            metrics.OUTBOX_PUBLISHED.inc(len(rows))
            if len(rows) == self.settings.relay_batch_size:
                metrics.OUTBOX_BACKLOG.set(
                    await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL")
                )

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

    async def _send(self, rows: list[asyncpg.Record]) -> bool:
        """Send rows in order and wait for every acknowledgement; retry until it works or the relay stops."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                producer = await self._producer_ready()
                futures: list[Any] = []
                for row in rows:
                    futures.append(
                        await producer.send(
                            row["topic"],
                            value=row["value"],
                            key=row["partition_key"].encode(),
                            headers=[(k, v.encode()) for k, v in row["headers"]],
                        )
                    )
                await asyncio.gather(*futures)
                return True
            except (KafkaError, OSError) as exc:
                kind = type(exc).__name__
                metrics.RELAY_ERRORS.labels(kind).inc()
                log.warning(
                    "publishing %d outbox rows failed (%s); retrying in %.1fs", len(rows), kind, backoff
                )
                # A fresh producer after a failure: long-lived clients of a restarted memory broker keep
                # stale metadata. Topics that vanished with it are recreated before the retry.
                await self._close_producer()
                await _wait(self._stop, backoff)
                backoff = min(backoff * 2, 5.0)
                await self._recreate_topics({row["topic"] for row in rows})
        return False

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
                 WHERE published_at < now() - make_interval(secs => $1) LIMIT 10000)""",
            self.settings.outbox_retention_hours * 3600,
        )
        await conn.execute(
            """DELETE FROM kit_processed_events WHERE ctid IN (
                 SELECT ctid FROM kit_processed_events
                 WHERE processed_at < now() - make_interval(secs => $1) LIMIT 10000)""",
            self.settings.inbox_retention_days * 86400,
        )

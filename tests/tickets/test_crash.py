"""The tickets worker SIGKILLed in the middle of 10,000 requests and 10,000 COMANDA closures: after a
restart every ticket is closed, and no transition was applied (or published) twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from crm_contracts.envelope import new_envelope
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.registry import TOPICS, topic_for
from crmkit import localstack
from crmkit.kafka import ensure_topics
from crmkit.outbox import encode, record_headers
from eventually import eventually
from kit.helpers import read_topic
from tickets.settings import Settings

pytestmark = pytest.mark.integration
N = 10_000


@contextlib.contextmanager
def tickets_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickets", "run"],
        env={**os.environ, **env, "HTTP_PORT": str(localstack.free_port())},
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def publish_all(settings: Any, envelopes: list[Any]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=10, max_batch_size=262_144
    )
    await producer.start()
    try:
        futures = []
        for env in envelopes:
            headers = record_headers(
                env.event_id, env.type, env.schema_version, env.producer, env.correlation_id
            )
            topic = settings.topic(topic_for(env.data).name)
            futures.append(
                await producer.send(topic, encode(env), key=env.partition_key.encode(), headers=headers)
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_killed_mid_stream_every_ticket_ends_closed_and_nothing_is_applied_twice(
    new_database: Any, settings_for: Any, make_request: Any, issuer: Any
) -> None:
    settings = settings_for(Settings, database_url=await new_database("tickets_crash"))
    env = {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_IDEMPOTENCE": str(settings.kafka_idempotence).lower(),
        "TOPIC_PREFIX": settings.topic_prefix,
        "CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "JWT_PUBLIC_KEY": issuer.public_pem(),
    }
    await ensure_topics(settings, TOPICS)
    requests = [make_request(nic=f"{i:07d}", code=f"TCK-K{i:05d}") for i in range(N)]
    closed_at = datetime.now(UTC)
    closures = [
        ComandaTicketStatusChanged(
            comanda_event_id=f"cmd-{r.ticket_id}",
            ticket_id=r.ticket_id,
            sequence=1,
            status="closed",
            changed_at=closed_at,
            changed_by="u-crew",
            resolution="Trabajo terminado",
        )
        for r in requests
    ]
    await publish_all(
        settings,
        [new_envelope(r, producer="attentions") for r in requests]
        + [new_envelope(c, producer="comanda") for c in closures],
    )

    async def closed() -> int:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM tickets WHERE status = 'closed'"))
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    with tickets_process(env) as doomed:
        done_before = await eventually(closed, lambda n: n >= 500, timeout=60, interval=0.02, what="progress")
        os.killpg(doomed.pid, signal.SIGKILL)
        assert doomed.wait(10) == -signal.SIGKILL
    at_kill = await closed()
    print(f"closed before the kill: {done_before}, after it: {at_kill}")
    assert done_before <= at_kill < N, "the worker was killed while it was processing"

    with tickets_process(env) as survivor:
        await eventually(closed, lambda n: n == N, timeout=90, what=f"all {N} tickets closed")

        conn = await asyncpg.connect(settings.database_url)
        try:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"),
                lambda n: n == 0,
                timeout=60,
                what="the outbox drained",
            )
            assert await conn.fetchval("SELECT count(*) FROM tickets") == N
            twice = await conn.fetch(
                """SELECT ticket_id FROM ticket_transitions GROUP BY ticket_id
                   HAVING count(*) <> 2 OR count(*) FILTER (WHERE to_status = 'closed') <> 1"""
            )
            assert twice == [], "a ticket has other than one creation and one closure"
            # No foreign key holds transitions to tickets (its per-row check cost more than the insert):
            # the handlers must never write a transition for a ticket that is not there.
            orphans = await conn.fetchval(
                """SELECT count(*) FROM ticket_transitions tt
                   WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = tt.ticket_id)"""
            )
            assert orphans == 0
            per_type = await conn.fetch(
                """SELECT event_type, count(*) AS n, count(DISTINCT partition_key) AS tickets
                   FROM kit_outbox GROUP BY event_type ORDER BY event_type"""
            )
            assert [tuple(r) for r in per_type] == [
                ("tickets.ticket.assigned", N, N),
                ("tickets.ticket.closed", N, N),
            ]
            assert await conn.fetchval("SELECT count(*) FROM comanda_pending") == 0
            assert await conn.fetchval("SELECT count(*) FROM comanda_dropped") == 0
        finally:
            await conn.close()

        # On the topic: the relay may have sent some rows again after the kill (at least once), but
        # every ticket has exactly one TicketClosed event id.
        records = await read_topic(settings, "tickets.tickets.v1", expect=2 * N, timeout=60)
        closures_seen: dict[str, set[str]] = defaultdict(set)
        for record in records:
            envelope = json.loads(record.value)
            if envelope["type"] == "tickets.ticket.closed":
                closures_seen[envelope["data"]["ticket_id"]].add(envelope["event_id"])
        assert len(closures_seen) == N
        assert {len(ids) for ids in closures_seen.values()} == {1}
        assert {str(r.ticket_id) for r in requests} == set(closures_seen)

        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0, "graceful shutdown exits 0"

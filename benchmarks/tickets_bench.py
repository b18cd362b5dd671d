"""Tickets service benchmark: COMANDA closure ingestion beside raw aiokafka, and rollup latency.

    python3 -m uv run python benchmarks/tickets_bench.py [--closures 30000] [--latency-samples 500] [--quick]

One run, one box, one PostgreSQL, one broker:
- the topic: ``--closures`` tickets are materialized first (from ``attentions.ticket.requested``, through
  the service), then as many ``comanda.ticket.status_changed`` closures (one per ticket, COMANDA's format)
  are put on ``comanda.ticket-status.v1``;
- raw: a plain aiokafka consumer in a new group reads that topic from the start (no decoding, no DB): the
  limit of the broker and the client on this box;
- ingestion: one tickets worker (the service's real subscriptions and SQL, in this process, exactly what
  ``python -m tickets worker`` runs: ``ServiceRuntime`` with the default settings, so its two consumers of
  the group) reads the same records and applies them: decode and validate, dedupe, lock, state update,
  transition log and one ``TicketClosed`` per ticket in the outbox, one transaction per batch;
  closures/s from the first applied closure to the last (the group join is not counted). Progress is
  watched by reading the outbox id sequence (not by counting rows, which would take CPU from the worker),
  and the end is confirmed with an exact count. Measured twice: the worker alone (the relay runs as its
  own process in production), and the worker and the relay in one process (``python -m tickets run``).
  Beside the rate: the CPU time per closure of this process (the worker), of the PostgreSQL backends of
  the service's database and of the broker, which depends much less than a rate on the rest of the box;
- rollup latency: the service runs (worker and relay); a COMANDA closure is published every 10 ms, and a
  plain consumer of ``tickets.tickets.v1`` stamps each ``TicketClosed`` when it receives it: p50/p99 of
  (received - just before COMANDA's send). The attentions part of the rollup is measured with that service.
Results: docs/benchmarks/tickets.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common import broker, scratch_database, summary_ms, write_results
from crm_contracts.envelope import Envelope, new_envelope
from crm_contracts.events.comanda import ComandaTicketStatusChanged
from crm_contracts.events.common import Person, Subject
from crm_contracts.events.tickets import TicketRequested
from crm_contracts.registry import TOPICS, topic_for
from crmkit.kafka import ensure_topics
from crmkit.outbox import encode, record_headers
from crmkit.runtime import ServiceRuntime
from tickets.service import define
from tickets.settings import Settings

STATUS_TOPIC = "comanda.ticket-status.v1"


def request(i: int) -> TicketRequested:
    return TicketRequested(
        ticket_id=uuid.uuid4(),
        code=f"TCK-B{i:07d}",
        responsibility="Revisar el medidor y reportar lectura",
        due_date=date.today() + timedelta(days=5),
        responsible=Person(
            user_id=f"u-{i % 50}", name="Juana Pérez", email="jp@edesal.example", area="Comercial"
        ),
        cc=[Person(user_id="u-boss", name="Jefe", email="jefe@edesal.example", area="Comercial")],
        event_id=uuid.uuid4(),
        event_code="EVT-2026-000077",
        event_title="Reclamo por consumo alto",
        event_internal_commitment_date=date.today() + timedelta(days=10),
        attention_id=uuid.uuid4(),
        attention_code="ATN-2026-000123",
        subject=Subject(kind="supply_point", nic=f"{i:07d}", display_name="Titular"),
        requested_by="u-agent",
    )


def closure(ticket_id: uuid.UUID, sequence: int = 1) -> Envelope[Any]:
    event = ComandaTicketStatusChanged(
        comanda_event_id=f"cmd-{uuid.uuid4().hex}",
        ticket_id=ticket_id,
        sequence=sequence,
        status="closed",
        changed_at=datetime.now(UTC),
        changed_by="u-crew",
        resolution="Medidor reemplazado y sellado.",
    )
    return new_envelope(event, producer="comanda")


async def produce(settings: Settings, envelopes: list[Envelope[Any]]) -> None:
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


async def wait_count(dsn: str, query: str, target: int, timeout: float = 600) -> tuple[float, float, int]:
    """(time of the first row, time of the target count, rows already there at the first sight).

    For small counts only: ``count(*)`` scans the table, and polling it every 10 ms would take a good part of
    a core from the worker being measured (``wait_outbox`` is the cheap probe for the timed runs)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.perf_counter() + timeout
        while not (first := await conn.fetchval(query)):
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        while await conn.fetchval(query) < target:
            if time.perf_counter() > deadline:
                raise TimeoutError(query)
            await asyncio.sleep(0.01)
        return started, time.perf_counter(), int(first)
    finally:
        await conn.close()


class Progress:
    """Watches a timed run without loading the box: polls the outbox id sequence (one read of one row)
    every 5 ms, then confirms the end with one exact count.

    Every applied closure writes exactly one outbox row (its ``TicketClosed``) in the transaction that
    closes the ticket, so ``target`` new sequence values mean every closure is in a transaction; the
    exact count afterwards waits for the last commit. The first sight of a new value is a few
    milliseconds before the first commit, which only lengthens the measured interval.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.base = 0

    async def arm(self) -> None:
        """Read where the outbox stands; call before the worker starts."""
        conn = await asyncpg.connect(self.dsn)
        try:
            self.base = await self._last(conn)
        finally:
            await conn.close()

    async def wait(self, count_query: str, target: int, timeout: float = 600) -> tuple[float, float, int]:
        """(first sight, end, rows written at the first sight): count ``target - rows`` over the interval.

        The first batch's rows are left out of the count but the rest of its transaction is inside the
        interval, so the rate is, if anything, a little low."""
        conn = await asyncpg.connect(self.dsn)
        try:
            deadline = time.perf_counter() + timeout
            while (seen := await self._last(conn) - self.base) <= 0:
                if time.perf_counter() > deadline:
                    raise TimeoutError(count_query)
                await asyncio.sleep(0.002)
            started = time.perf_counter()
            await self.on_start(conn)
            while await self._last(conn) < self.base + target or await conn.fetchval(count_query) < target:
                if time.perf_counter() > deadline:
                    raise TimeoutError(count_query)
                await asyncio.sleep(0.005)
            ended = time.perf_counter()
            await self.on_end(conn)
            return started, ended, seen
        finally:
            await conn.close()

    @staticmethod
    async def _last(conn: asyncpg.Connection) -> int:
        """The last outbox id handed out (0 before the first, or before the migrations ran)."""
        try:
            row = await conn.fetchrow("SELECT last_value, is_called FROM kit_outbox_id_seq")
        except asyncpg.UndefinedTableError:
            return 0
        return int(row["last_value"]) if row is not None and row["is_called"] else 0

    async def on_start(self, conn: asyncpg.Connection) -> None:
        pass

    async def on_end(self, conn: asyncpg.Connection) -> None:
        pass


class CpuMeter(Progress):
    """Progress that also takes the CPU time spent between the first and the last closure: by this process
    (the worker runs in it), by the PostgreSQL backends of the service's database (those open at the start
    and those opened since), and by the broker. CPU seconds per closure depend much less than a rate on
    what else runs on the box."""

    def __init__(self, dsn: str, broker_pid: int | None) -> None:
        super().__init__(dsn)
        self.broker_pid = broker_pid
        self.start: dict[str, float] = {}
        self.start_backends: dict[int, float] = {}
        self.used: dict[str, float] = {}

    @staticmethod
    async def _backends(conn: asyncpg.Connection) -> dict[int, float]:
        rows = await conn.fetch(
            """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
               AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        )
        return {row["pid"]: _process_cpu(row["pid"]) for row in rows}

    def _own(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "worker": usage.ru_utime + usage.ru_stime,
            "broker": _process_cpu(self.broker_pid) if self.broker_pid else 0.0,
        }

    async def on_start(self, conn: asyncpg.Connection) -> None:
        self.start = self._own()
        self.start_backends = await self._backends(conn)

    async def on_end(self, conn: asyncpg.Connection) -> None:
        own = self._own()
        backends = await self._backends(conn)
        self.used = {k: own[k] - self.start[k] for k in own}
        self.used["postgres"] = sum(cpu - self.start_backends.get(pid, 0.0) for pid, cpu in backends.items())


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid(bootstrap: str) -> int | None:
    """The pid of the local broker listening on ``bootstrap`` (None for an outside one)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"tansu" in cmdline and f"tcp://{bootstrap}".encode() in cmdline:
            return int(entry)
    return None


async def raw_consume(settings: Settings, n: int) -> float:
    consumer = AIOKafkaConsumer(
        settings.topic(STATUS_TOPIC),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        seen = 0
        started = time.perf_counter()
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            seen += sum(len(v) for v in batch.values())
            await consumer.commit()
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def ingestion(settings: Settings, n: int, parts: Collection[str], bootstrap: str) -> dict[str, Any]:
    """Materialize n tickets, then time one worker applying n closures. Returns rates, the raw consume of
    the same records, and the CPU time per closure of the worker, PostgreSQL and the broker."""
    await ensure_topics(settings, TOPICS)
    requests = [request(i) for i in range(n)]
    progress = Progress(settings.database_url)
    await progress.arm()
    runtime = ServiceRuntime(define(settings))
    await runtime.start({"worker"})
    try:
        await produce(settings, [new_envelope(r, producer="attentions") for r in requests])
        first, last, already = await progress.wait("SELECT count(*) FROM tickets", n)
        materialized = (n - already) / (last - first)
    finally:
        await runtime.stop()
    await produce(settings, [closure(r.ticket_id) for r in requests])
    raw = await raw_consume(settings, n)
    meter = CpuMeter(settings.database_url, broker_pid(bootstrap))
    await meter.arm()
    runtime = ServiceRuntime(define(settings))
    await runtime.start(parts)
    try:
        query = "SELECT count(*) FROM tickets WHERE status = 'closed'"
        first, last, already = await meter.wait(query, n)
        applied = (n - already) / (last - first)
    finally:
        await runtime.stop()
    conn = await asyncpg.connect(settings.database_url)
    try:
        closed_events = await conn.fetchval(
            "SELECT count(*) FROM kit_outbox WHERE event_type = 'tickets.ticket.closed'"
        )
        assert closed_events == n, closed_events
    finally:
        await conn.close()
    cpu_us = {k: round(v / (n - already) * 1e6, 1) for k, v in meter.used.items()}
    return {
        "materialized_per_s": materialized,
        "closures_per_s": applied,
        "raw_consume_per_s": raw,
        "cpu_us_per_closure": cpu_us,
    }


async def rollup_latency(settings: Settings, samples: int) -> dict[str, float]:
    await ensure_topics(settings, TOPICS)
    requests = [request(i) for i in range(samples)]
    runtime = ServiceRuntime(define(settings))
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with runtime.running({"worker", "relay"}):
        await produce(settings, [new_envelope(r, producer="attentions") for r in requests])
        await wait_count(settings.database_url, "SELECT count(*) FROM tickets", samples)
        consumer = AIOKafkaConsumer(
            settings.topic("tickets.tickets.v1"),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=f"lat-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="latest",
            session_timeout_ms=3000,
            heartbeat_interval_ms=500,
            fetch_max_wait_ms=10,
        )
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()

        async def receive() -> None:
            while len(latencies) < samples:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        envelope = json.loads(r.value)
                        if envelope["type"] == "tickets.ticket.closed":
                            latencies.append(now - sent[envelope["data"]["ticket_id"]])

        receiver = asyncio.create_task(receive())
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=0
        )
        await producer.start()
        try:
            for r in requests:
                env = closure(r.ticket_id)
                headers = record_headers(env.event_id, env.type, env.schema_version, env.producer, None)
                sent[str(r.ticket_id)] = time.perf_counter()
                await producer.send_and_wait(
                    settings.topic(STATUS_TOPIC), encode(env), key=env.partition_key.encode(), headers=headers
                )
                await asyncio.sleep(0.01)
            await asyncio.wait_for(receiver, 60)
        finally:
            await producer.stop()
            await consumer.stop()
    return summary_ms(latencies)


async def main(n: int, samples: int, quick: bool = False) -> None:
    load_before = os.getloadavg()[0]
    with broker() as bootstrap:
        run = uuid.uuid4().hex[:6]

        def settings(dsn: str, label: str) -> Settings:
            return Settings(
                database_url=dsn,
                kafka_bootstrap_servers=bootstrap,
                topic_prefix=f"b{run}{label}.",
                consumer_session_timeout_ms=3000,
                consumer_heartbeat_interval_ms=500,
                log_level="WARNING",
                log_json=False,
            )

        async with scratch_database("tickets_w") as dsn:
            alone = await ingestion(settings(dsn, "w"), n, {"worker"}, bootstrap)
        print(f"worker alone: {json.dumps(alone)}")
        if quick:
            print(f"load average {os.getloadavg()[0]:.2f} (quick run: nothing written)")
            return
        async with scratch_database("tickets_wr") as dsn:
            together = await ingestion(settings(dsn, "r"), n, {"worker", "relay"}, bootstrap)
        print(f"worker + relay: {json.dumps(together)}")
        async with scratch_database("tickets_lat") as dsn:
            latency = await rollup_latency(settings(dsn, "l"), samples)
        print(f"rollup latency: {latency}")
    results = {
        "closures": n,
        "raw_consume_per_s": round(alone["raw_consume_per_s"]),
        "closures_per_s_worker": round(alone["closures_per_s"]),
        "closures_ratio_to_raw_consume": round(alone["closures_per_s"] / alone["raw_consume_per_s"], 3),
        # CPU time per closure (microseconds) while the worker applied them: the worker process, the
        # PostgreSQL backends of its database and the broker. The box has 2 cores for all three.
        "cpu_us_per_closure_worker": alone["cpu_us_per_closure"],
        "closures_per_s_worker_and_relay": round(together["closures_per_s"]),
        "cpu_us_per_closure_worker_and_relay": together["cpu_us_per_closure"],
        "raw_consume_per_s_second_run": round(together["raw_consume_per_s"]),
        "materialized_tickets_per_s": round(alone["materialized_per_s"]),
        "rollup_latency_comanda_publish_to_ticket_closed": latency,
        "targets": {"closures_per_s": 10_000, "rollup_p99_ms": 250},
        # Other work on the box competes for its 2 cores: the 1-minute load average before and after.
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(results, indent=2))
    print(f"written to {write_results('tickets', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--closures", type=int, default=30_000)
    parser.add_argument("--latency-samples", type=int, default=500)
    parser.add_argument(
        "--quick", action="store_true", help="only the worker alone, printed, not written (while tuning)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.closures, args.latency_samples, args.quick))

"""FACTELEC sync benchmark: a full sync of N supply points, source -> topic -> replica, beside a raw COPY.

    python3 -m uv run python benchmarks/factelec_bench.py [--rows 1000000] [--outbox-sample 100000]

In one run, against one PostgreSQL and one broker:
- fills a FACTELEC demo database with N supply points (``factelec_sync.demo_source``);
- raw COPY: the same rows, read with the sync's source query, COPYed by asyncpg into a replica-shaped
  table (primary key on NIC) of the same PostgreSQL: the floor;
- leg 1, source -> topic: ``python -m factelec_sync sync`` as a process, on an empty topic;
- leg 2, topic -> replica: a kit consumer process (``tests/factelec/replica.py``: ``on_batch`` handler,
  one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`` per batch) reading the full topic; then
  ``--consumers`` processes of one consumer group (the kit worker scaled out, as on lag);
- end to end: the sync and the consumer process(es) started together on a fresh topic and databases,
  until the replica holds N (with one consumer, and with ``--consumers``);
- the outbox alternative on a sample: the same rows written as SupplyPointUpserted through the kit's
  ``Outbox.add_many`` (with a watermark update in each transaction) while the kit's ``OutboxRelay``
  publishes them: the rate that decided against it (docs/factelec-sync.md).
Peak RSS of each process is its VmHWM (/proc/<pid>/status), polled while it runs (the sync also reports
its own at exit). Not ru_maxrss: Linux carries the parent's peak into a child, and this script holds the
rows of the raw COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from common import ROOT, broker, scratch_database, write_results
from crm_contracts.events.factelec import SupplyPointUpserted
from crmkit import localstack
from crmkit.db import create_pool, migrate
from crmkit.kafka import ensure_topics
from crmkit.outbox import Outbox
from crmkit.relay import OutboxRelay
from crmkit.settings import KitSettings
from factelec_sync.demo_source import generator
from factelec_sync.domain.mapping import SourceSchema, SupplyPoint, map_row
from factelec_sync.domain.watermark import END_OF_TIME, Watermark
from factelec_sync.service import produced_topics
from factelec_sync.settings import Settings
from factelec_sync.source import open_source

TESTS = ROOT / "tests"
REPLICA_COLUMNS = [
    "nic",
    "holder",
    "address",
    "municipality",
    "department",
    "tariff",
    "meter",
    "connection_status",
    "source_updated_at",
]


# -- processes and their memory -----------------------------------------------------------------------


class PeakRss:
    """Polls /proc/<pid>/status for VmHWM (the process's peak resident set) until it exits."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.peak_kb = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        path = f"/proc/{self.proc.pid}/status"
        while self.proc.poll() is None:
            with contextlib.suppress(OSError), open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.05)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Topic:
    bootstrap: str
    prefix: str


def sync_env(topic: Topic, sync_db: str, source_dsn: str, batch: int) -> dict[str, str]:
    return {
        "DATABASE_URL": sync_db,
        "FACTELEC_SOURCE_DSN": source_dsn,
        "FACTELEC_SOURCE_SETTLE_S": "0",
        "FACTELEC_BATCH_SIZE": str(batch),
        "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
        "TOPIC_PREFIX": topic.prefix,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
    }


def replica_env(topic: Topic, replica_db: str, group: str, port: int, max_records: int) -> dict[str, str]:
    return {
        "PYTHONPATH": str(TESTS),
        "DATABASE_URL": replica_db,
        "SERVICE_NAME": group,
        "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
        "TOPIC_PREFIX": topic.prefix,
        "CONSUMER_MAX_RECORDS": str(max_records),
        "CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
    }


async def applied(ports: list[int]) -> float:
    """Events the replica consumers applied so far (their /metrics; cheaper than counting the table)."""
    total = 0.0
    async with httpx.AsyncClient(timeout=2) as http:
        for port in ports:
            try:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.HTTPError:
                continue
            total += sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("crm_consumer_events_total") and 'outcome="applied"' in line
            )
    return total


async def replica_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM supply_points"))
    finally:
        await conn.close()


async def wait_replica(
    consumers: list[tuple[subprocess.Popen[bytes], int]], rows: int, timeout: float
) -> tuple[float | None, float]:
    """(monotonic time of the first applied event, of the last); raises when a consumer stalls."""
    first: float | None = None
    deadline = time.monotonic() + timeout
    ports = [port for _, port in consumers]
    while True:
        n = await applied(ports)
        now = time.monotonic()
        if n > 0 and first is None:
            first = now
        if n >= rows:
            return first, now
        for proc, _ in consumers:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"a replica consumer exited: {err[-2000:]}")
        if now > deadline:
            raise TimeoutError(f"the replica holds {n} of {rows} after {timeout}s")
        await asyncio.sleep(0.1)


def sync_result(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"sync failed ({proc.returncode}): {err.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# -- the parts ----------------------------------------------------------------------------------------


async def read_source(source_dsn: str) -> list[tuple[Any, ...]]:
    settings = Settings(factelec_source_dsn=source_dsn)
    schema = SourceSchema.from_config(
        settings.factelec_source_columns, settings.factelec_source_statuses, settings.factelec_source_timezone
    )
    source = open_source(settings)
    await source.open()
    rows: list[tuple[Any, ...]] = []
    try:
        async for page in source.scan(Watermark.initial(), END_OF_TIME, 20_000):
            for row in page:
                p = map_row(row, schema)
                if isinstance(p, SupplyPoint):
                    rows.append(
                        (
                            p.nic,
                            p.holder,
                            p.address,
                            p.municipality,
                            p.department,
                            p.tariff,
                            p.meter,
                            p.connection_status,
                            p.source_updated_at,
                        )
                    )
    finally:
        await source.close()
    return rows


async def raw_copy(source_dsn: str, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    records = await read_source(source_dsn)
    read_s = time.perf_counter() - started
    assert len(records) == rows, (len(records), rows)
    async with scratch_database("fxcopy") as dsn:
        await migrate(dsn, [TESTS / "factelec" / "replica_migrations"])
        conn = await asyncpg.connect(dsn)
        try:
            started = time.perf_counter()
            await conn.copy_records_to_table("supply_points", records=records, columns=REPLICA_COLUMNS)
            copy_s = time.perf_counter() - started
        finally:
            await conn.close()
    return {
        "copy_s": round(copy_s, 2),
        "copy_rows_per_s": round(rows / copy_s),
        "source_read_and_map_s": round(read_s, 2),
    }


async def leg_source_to_topic(topic: Topic, source_dsn: str, rows: int, batch: int) -> dict[str, Any]:
    async with scratch_database("fxsync") as sync_db:
        started = time.perf_counter()
        proc = spawn(
            ["-m", "factelec_sync", "sync", "--json", "--no-progress"],
            sync_env(topic, sync_db, source_dsn, batch),
        )
        rss = PeakRss(proc)
        result = await asyncio.get_running_loop().run_in_executor(None, sync_result, proc)
        wall = time.perf_counter() - started
    assert result["published"] == rows, result
    return {
        "process_wall_s": round(wall, 2),
        "run_s": result["duration_s"],
        "rows_per_s": round(rows / result["duration_s"]),
        "peak_rss_mb": max(rss.peak_mb, result["peak_rss_mb"]),  # both are VmHWM
    }


def start_consumers(
    topic: Topic, replica_db: str, count: int, max_records: int
) -> list[tuple[subprocess.Popen[bytes], int, PeakRss]]:
    """``count`` processes of one consumer group (the partitions are shared out among them)."""
    group = f"bench-replica-{uuid.uuid4().hex[:6]}"
    started = []
    for _ in range(count):
        port = localstack.free_port()
        proc = spawn(
            ["-m", "factelec.replica", "run"], replica_env(topic, replica_db, group, port, max_records)
        )
        started.append((proc, port, PeakRss(proc)))
    return started


async def prepare_replica(replica_db: str) -> None:
    # Migrated before the consumers start, so that several processes do not race to migrate.
    await migrate(replica_db, [TESTS / "factelec" / "replica_migrations"])


async def leg_topic_to_replica(topic: Topic, rows: int, max_records: int, consumers: int) -> dict[str, Any]:
    async with scratch_database("fxreplica") as replica_db:
        await prepare_replica(replica_db)
        started = time.monotonic()
        procs = start_consumers(topic, replica_db, consumers, max_records)
        try:
            first, last = await wait_replica([(p, port) for p, port, _ in procs], rows, timeout=1800)
        finally:
            for proc, _, _ in procs:
                stop(proc)
        assert await replica_count(replica_db) == rows
    assert first is not None
    return {
        "consumer_processes": consumers,
        "consume_s": round(last - first, 2),
        "rows_per_s": round(rows / (last - first)),
        "process_wall_s": round(last - started, 2),
        "peak_rss_mb": max(rss.peak_mb for _, _, rss in procs),
    }


async def end_to_end(
    topic: Topic, source_dsn: str, rows: int, batch: int, max_records: int, consumers: int
) -> dict[str, Any]:
    async with scratch_database("fxsync") as sync_db, scratch_database("fxreplica") as replica_db:
        await prepare_replica(replica_db)
        started = time.monotonic()
        procs = start_consumers(topic, replica_db, consumers, max_records)
        sync = spawn(
            ["-m", "factelec_sync", "sync", "--json", "--no-progress"],
            sync_env(topic, sync_db, source_dsn, batch),
        )
        sync_rss = PeakRss(sync)
        try:
            result_future = asyncio.get_running_loop().run_in_executor(None, sync_result, sync)
            _, last = await wait_replica([(p, port) for p, port, _ in procs], rows, timeout=1800)
            result = await result_future
        finally:
            for proc, _, _ in procs:
                stop(proc)
            stop(sync)
        assert await replica_count(replica_db) == rows
    total = last - started
    return {
        "consumer_processes": consumers,
        "total_s": round(total, 2),
        "rows_per_s": round(rows / total),
        "sync_run_s": result["duration_s"],
        "sync_peak_rss_mb": max(sync_rss.peak_mb, result["peak_rss_mb"]),
        "consumer_peak_rss_mb": max(rss.peak_mb for _, _, rss in procs),
    }


async def outbox_alternative(topic: Topic, source_dsn: str, sample: int, batch: int) -> dict[str, Any]:
    """The same rows through the kit's outbox: events inserted with a watermark update per transaction,
    published by the kit's relay concurrently; until the last one is acknowledged."""
    settings = KitSettings(
        service_name="factelec-sync",
        kafka_bootstrap_servers=topic.bootstrap,
        topic_prefix=topic.prefix,
        log_level="WARNING",
    )
    await ensure_topics(settings, produced_topics())
    schema = SourceSchema.from_config(
        Settings().factelec_source_columns, Settings().factelec_source_statuses, "America/El_Salvador"
    )
    source = open_source(Settings(factelec_source_dsn=source_dsn))
    await source.open()
    async with scratch_database("fxoutbox") as dsn:
        await migrate(dsn, [])
        settings = settings.model_copy(update={"database_url": dsn})
        pool = await create_pool(dsn, max_size=4)
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE wm (id int PRIMARY KEY, ts timestamptz, key bigint)")
        outbox = Outbox("factelec-sync", topic.prefix)
        relay = OutboxRelay(settings, topics=produced_topics())
        started = time.perf_counter()
        relay_task = asyncio.create_task(relay.run())
        written = 0
        try:
            async for page in source.scan(Watermark.initial(), END_OF_TIME, batch):
                points = [p for p in (map_row(r, schema) for r in page) if isinstance(p, SupplyPoint)]
                events = [
                    SupplyPointUpserted(
                        nic=p.nic,
                        holder=p.holder,
                        address=p.address,
                        municipality=p.municipality,
                        department=p.department,
                        tariff=p.tariff,
                        meter=p.meter,
                        connection_status=p.connection_status,
                        source_updated_at=p.source_updated_at,
                    )
                    for p in points
                ][: sample - written]
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.add_many(conn, events)
                    await conn.execute(
                        "INSERT INTO wm VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET ts = $1, key = $2",
                        points[-1].source_updated_at,
                        points[-1].key,
                    )
                written += len(events)
                if written >= sample:
                    break
            written_s = time.perf_counter() - started
            async with pool.acquire() as conn:
                while await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"):
                    await asyncio.sleep(0.05)
            total = time.perf_counter() - started
        finally:
            relay.stop()
            await relay_task
            await pool.close()
            await source.close()
    return {
        "events": written,
        "written_s": round(written_s, 2),
        "published_s": round(total, 2),
        "rows_per_s": round(written / total),
        "projected_1m_s": round(1_000_000 / (written / total), 1),
    }


async def main(rows: int, batch: int, max_records: int, consumers: int, outbox_sample: int) -> None:
    load_before = os.getloadavg()
    results: dict[str, Any] = {"rows": rows, "batch_size": batch, "consumer_max_records": max_records}
    with broker() as bootstrap:
        async with scratch_database("fxsource") as source_dsn:
            stats = await generator.fill(source_dsn, rows, bad_rows=0, seed=2026)
            results["demo_source_fill"] = {
                "s": round(stats.seconds, 2),
                "rows_per_s": round(stats.rows_per_s),
            }
            print(f"source filled: {rows:,} rows in {stats.seconds:.1f} s", flush=True)

            results["raw_copy"] = await raw_copy(source_dsn, rows)
            print(f"raw COPY: {results['raw_copy']}", flush=True)

            leg_topic = Topic(bootstrap, f"b{uuid.uuid4().hex[:6]}.")
            results["source_to_topic"] = await leg_source_to_topic(leg_topic, source_dsn, rows, batch)
            print(f"source -> topic: {results['source_to_topic']}", flush=True)
            results["topic_to_replica"] = await leg_topic_to_replica(leg_topic, rows, max_records, 1)
            print(f"topic -> replica: {results['topic_to_replica']}", flush=True)
            if consumers > 1:
                results["topic_to_replica_scaled"] = await leg_topic_to_replica(
                    leg_topic, rows, max_records, consumers
                )
                print(
                    f"topic -> replica, {consumers} consumers: {results['topic_to_replica_scaled']}",
                    flush=True,
                )

            for n in sorted({1, consumers}):
                e2e_topic = Topic(bootstrap, f"e{uuid.uuid4().hex[:6]}.")
                key = "end_to_end" if n == 1 else "end_to_end_scaled"
                results[key] = await end_to_end(e2e_topic, source_dsn, rows, batch, max_records, n)
                print(f"end to end, {n} consumer(s): {results[key]}", flush=True)

            if outbox_sample:
                outbox_topic = Topic(bootstrap, f"o{uuid.uuid4().hex[:6]}.")
                results["outbox_alternative"] = await outbox_alternative(
                    outbox_topic, source_dsn, min(outbox_sample, rows), batch
                )
                print(f"outbox alternative: {results['outbox_alternative']}", flush=True)
    best = min(
        (results[k] for k in ("end_to_end", "end_to_end_scaled") if k in results), key=lambda r: r["total_s"]
    )
    peaks = [
        results["source_to_topic"]["peak_rss_mb"],
        *(results[k]["peak_rss_mb"] for k in ("topic_to_replica", "topic_to_replica_scaled") if k in results),
        *(
            results[k][f]
            for k in ("end_to_end", "end_to_end_scaled")
            if k in results
            for f in ("sync_peak_rss_mb", "consumer_peak_rss_mb")
        ),
    ]
    results["targets"] = {
        "best_end_to_end_s": best["total_s"],
        "end_to_end_under_30s": best["total_s"] < 30 if rows == 1_000_000 else None,
        "max_peak_rss_mb": max(peaks),
        "every_process_under_300mb": max(peaks) < 300,
        "best_end_to_end_vs_raw_copy": round(best["rows_per_s"] / results["raw_copy"]["copy_rows_per_s"], 3),
    }
    results["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(results, indent=2))
    print(f"written to {write_results('factelec', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="supply points (e.g. 100000 for a quick run)"
    )
    parser.add_argument("--batch-size", type=int, default=10_000, help="sync page size (FACTELEC_BATCH_SIZE)")
    parser.add_argument(
        "--consumer-max-records",
        type=int,
        default=500,
        help="records per consumer batch (CONSUMER_MAX_RECORDS)",
    )
    parser.add_argument(
        "--consumers",
        type=int,
        default=2,
        help="also measure with this many consumer processes in the replica's group (1: only one)",
    )
    parser.add_argument(
        "--outbox-sample", type=int, default=100_000, help="rows for the outbox comparison (0: skip it)"
    )
    a = parser.parse_args()
    asyncio.run(main(a.rows, a.batch_size, a.consumer_max_records, a.consumers, a.outbox_sample))

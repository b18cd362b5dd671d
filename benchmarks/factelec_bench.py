"""FACTELEC sync benchmark: a full sync of N supply points, source -> topic -> replica, beside a raw COPY.

    python3 -m uv run python benchmarks/factelec_bench.py [--rows 1000000] [--consumers 2]
        [--outbox-sample 100000]

In one run, against one PostgreSQL and one broker, every process on this machine:
- fills a FACTELEC demo database with N supply points (``factelec_sync.demo_source``);
- raw COPY: the same rows, read with the sync's source query and mapped, COPYed by asyncpg into (a) a
  table with the replica's columns and only its primary key (the floor), (b) the attentions service's own
  ``supply_points`` table (its migrations: primary key and the two trigram indexes that search uses);
- leg 1, source -> topic: ``python -m factelec_sync sync`` as a process, on an empty topic;
- leg 2, topic -> replica: ``--consumers`` processes of the attentions service's worker
  (``python -m attentions worker``: the service's own handler and replica) reading the full topic;
- end to end: the sync and the attentions worker process(es) started together on a fresh topic and
  databases, until the replica holds N: what a first full sync costs;
- the outbox alternative on a sample: the same rows written as SupplyPointUpserted through the kit's
  ``Outbox.add_many`` (with a watermark update in each transaction) while the kit's ``OutboxRelay``
  publishes them: the rate that decided against it (docs/factelec-sync.md).
Each step also reports the CPU seconds of every process that worked for it: the sync, each consumer, the
broker, the PostgreSQL backends of each database (source, sync, replica, from pg_stat_activity) and
PostgreSQL's WAL writer, checkpointer and background writer; everything shares this machine's cores.
Peak RSS of each process is its VmHWM (/proc/<pid>/status), polled while it runs. Not ru_maxrss: Linux
carries the parent's peak into a child, and this script holds the rows of the raw COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from attentions.service import MIGRATIONS as ATTENTIONS_MIGRATIONS
from common import ROOT, broker, postgres_admin_url, scratch_database, write_results
from crm_contracts.events.factelec import SupplyPointUpserted
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_BACKGROUND = ("walwriter", "checkpointer", "background writer")


# -- processes, their CPU and memory ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (/proc/<pid>/stat), None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def broker_pid(bootstrap: str) -> int | None:
    """The local broker process serving ``bootstrap`` (None for a remote one)."""
    port = bootstrap.rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "tansu" in cmdline and f":{port}" in cmdline and "broker" in cmdline:
                return int(entry.name)
    return None


@dataclass
class Meter:
    """CPU seconds and peak RSS of the processes that work for one step, polled every 0.1 s.

    Processes are tracked by label (several pids may share one, e.g. the backends of one database).
    CPU is counted from the moment a process is first seen in the step; PostgreSQL backends that started
    during the step count from their start."""

    dbs: dict[str, str]  # database name -> label
    pids: dict[int, str] = field(default_factory=dict)
    base: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    peak_kb: dict[int, int] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _started: datetime | None = None

    def track(self, label: str, pid: int | None, from_zero: bool = False) -> None:
        if pid is None or pid in self.pids:
            return
        self.pids[pid] = label
        now = cpu_seconds(pid)
        self.base[pid] = 0.0 if from_zero or now is None else now
        if now is not None:
            self.last[pid] = now

    def _poll(self) -> None:
        for pid in self.pids:
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.last[pid] = cpu
            rss = peak_rss_kb(pid)
            if rss is not None:
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), rss)

    async def _run(self) -> None:
        conn = await asyncpg.connect(postgres_admin_url())
        try:
            self._started = await conn.fetchval("SELECT now()")
            while True:
                rows = await conn.fetch(
                    """SELECT pid, datname, backend_type, backend_start FROM pg_stat_activity
                       WHERE pid <> pg_backend_pid()"""
                )
                for r in rows:
                    if r["datname"] in self.dbs:
                        self.track(
                            f"pg {self.dbs[r['datname']]}", r["pid"], r["backend_start"] >= self._started
                        )
                    elif r["backend_type"] in PG_BACKGROUND:
                        self.track("pg background (WAL writer, checkpointer, bgwriter)", r["pid"])
                self._poll()
                if self._stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.1)
        finally:
            await conn.close()

    def start(self) -> Meter:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._task is not None:
            await self._task
        cpu: dict[str, float] = {}
        for pid, label in self.pids.items():
            cpu[label] = cpu.get(label, 0.0) + self.last.get(pid, self.base[pid]) - self.base[pid]
        peaks: dict[str, float] = {}
        for pid, label in self.pids.items():
            if not label.startswith("pg") and label != "broker" and pid in self.peak_kb:
                peaks[label] = max(peaks.get(label, 0.0), round(self.peak_kb[pid] / 1024, 1))
        broker = [round(kb / 1024, 1) for pid, kb in self.peak_kb.items() if self.pids[pid] == "broker"]
        return {
            "cpu_s": {k: round(v, 2) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])},
            "cpu_total_s": round(sum(cpu.values()), 1),
            "peak_rss_mb": peaks,
            # The memory broker keeps every record of every step's topic: its peak is the run's so far.
            "broker_peak_rss_mb": max(broker, default=None),
        }


def compile_bytecode() -> float:
    """Compile the workspace and its libraries to bytecode once, as an image build does: where
    PYTHONDONTWRITEBYTECODE is set (this machine's environment) every process would otherwise compile
    what it imports at start, about 3 s of CPU for each sync or worker process. Returns the seconds."""
    started = time.perf_counter()
    paths = [p for p in sys.path if p.endswith("site-packages")]
    paths += [str(p) for p in (ROOT / "contracts" / "src", ROOT / "libs" / "crmkit" / "src")]
    paths += [str(p) for p in sorted((ROOT / "services").glob("*/src"))]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *paths], check=False)
    return round(time.perf_counter() - started, 1)


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    environment = {**os.environ, **env}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # read (and write) the bytecode cache
    return subprocess.Popen(
        [sys.executable, *args],
        env=environment,
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


def replica_env(topic: Topic, replica_db: str, port: int, max_records: int) -> dict[str, str]:
    """The attentions service's worker, configured from the environment as deployed."""
    return {
        "DATABASE_URL": replica_db,
        "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
        "TOPIC_PREFIX": topic.prefix,
        "CONSUMER_MAX_RECORDS": str(max_records),
        "CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
    }


def db_name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[-1].split("?", 1)[0]


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
                    rows.append(tuple(p[1:]))  # the contract's fields, without the source key
    finally:
        await source.close()
    return rows


async def copy_into(dsn: str, records: list[tuple[Any, ...]]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("supply_points", records=records, columns=REPLICA_COLUMNS)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def raw_copy(source_dsn: str, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    records = await read_source(source_dsn)
    read_s = time.perf_counter() - started
    assert len(records) == rows, (len(records), rows)
    async with scratch_database("fxcopy") as dsn:
        await migrate(dsn, [TESTS / "factelec" / "replica_migrations"])  # the columns, a primary key
        bare_s = await copy_into(dsn, records)
    async with scratch_database("fxcopy") as dsn:
        await migrate(dsn, [ATTENTIONS_MIGRATIONS])  # the attentions service's table and indexes
        replica_s = await copy_into(dsn, records)
    return {
        "copy_s": round(bare_s, 2),
        "copy_rows_per_s": round(rows / bare_s),
        "copy_into_attentions_table_s": round(replica_s, 2),
        "copy_into_attentions_table_rows_per_s": round(rows / replica_s),
        "source_read_and_map_s": round(read_s, 2),
    }


async def leg_source_to_topic(topic: Topic, source_dsn: str, rows: int, batch: int) -> dict[str, Any]:
    async with scratch_database("fxsync") as sync_db:
        meter = Meter({db_name(source_dsn): "source", db_name(sync_db): "sync"}).start()
        meter.track("broker", broker_pid(topic.bootstrap))
        started = time.perf_counter()
        proc = spawn(
            ["-m", "factelec_sync", "sync", "--json", "--no-progress"],
            sync_env(topic, sync_db, source_dsn, batch),
        )
        meter.track("sync process", proc.pid, from_zero=True)
        result = await asyncio.get_running_loop().run_in_executor(None, sync_result, proc)
        wall = time.perf_counter() - started
        usage = await meter.stop()
    assert result["published"] == rows, result
    return {
        "process_wall_s": round(wall, 2),
        "run_s": result["duration_s"],
        "rows_per_s": round(rows / result["duration_s"]),
        "sync_peak_rss_mb": max(usage["peak_rss_mb"].get("sync process", 0.0), result["peak_rss_mb"]),
        **usage,
    }


def start_consumers(
    topic: Topic, replica_db: str, count: int, max_records: int, meter: Meter
) -> list[tuple[subprocess.Popen[bytes], int]]:
    """``count`` processes of the attentions worker: one consumer group sharing the partitions."""
    started = []
    for i in range(count):
        port = localstack_port()
        proc = spawn(["-m", "attentions", "worker"], replica_env(topic, replica_db, port, max_records))
        meter.track(f"consumer {i + 1}", proc.pid, from_zero=True)
        started.append((proc, port))
    return started


def localstack_port() -> int:
    from crmkit import localstack

    return localstack.free_port()


SEARCH_INDEXES = ("supply_points_holder_trgm", "supply_points_address_trgm")


async def prepare_replica(replica_db: str, search_indexes: bool = True) -> None:
    # Migrated before the consumers start, so that several processes do not race to migrate.
    await migrate(replica_db, [ATTENTIONS_MIGRATIONS])
    if not search_indexes:  # the variant that shows what the trigram indexes cost
        conn = await asyncpg.connect(replica_db)
        try:
            for index in SEARCH_INDEXES:
                await conn.execute(f"DROP INDEX {index}")
        finally:
            await conn.close()


async def leg_topic_to_replica(topic: Topic, rows: int, max_records: int, consumers: int) -> dict[str, Any]:
    async with scratch_database("fxreplica") as replica_db:
        await prepare_replica(replica_db)
        meter = Meter({db_name(replica_db): "replica"}).start()
        meter.track("broker", broker_pid(topic.bootstrap))
        started = time.monotonic()
        procs = start_consumers(topic, replica_db, consumers, max_records, meter)
        try:
            first, last = await wait_replica(procs, rows, timeout=1800)
        finally:
            usage = await meter.stop()
            for proc, _ in procs:
                stop(proc)
        assert await replica_count(replica_db) == rows
    assert first is not None
    return {
        "consumer_processes": consumers,
        "consume_s": round(last - first, 2),
        "rows_per_s": round(rows / (last - first)),
        "process_wall_s": round(last - started, 2),
        **usage,
    }


async def end_to_end(
    topic: Topic,
    source_dsn: str,
    rows: int,
    batch: int,
    max_records: int,
    consumers: int,
    search_indexes: bool = True,
) -> dict[str, Any]:
    async with scratch_database("fxsync") as sync_db, scratch_database("fxreplica") as replica_db:
        await prepare_replica(replica_db, search_indexes)
        meter = Meter(
            {db_name(source_dsn): "source", db_name(sync_db): "sync", db_name(replica_db): "replica"}
        ).start()
        meter.track("broker", broker_pid(topic.bootstrap))
        started = time.monotonic()
        procs = start_consumers(topic, replica_db, consumers, max_records, meter)
        sync = spawn(
            ["-m", "factelec_sync", "sync", "--json", "--no-progress"],
            sync_env(topic, sync_db, source_dsn, batch),
        )
        meter.track("sync process", sync.pid, from_zero=True)
        try:
            result_future = asyncio.get_running_loop().run_in_executor(None, sync_result, sync)
            marks: dict[str, float] = {}
            result_future.add_done_callback(lambda _: marks.setdefault("sync", time.monotonic()))
            _, last = await wait_replica(procs, rows, timeout=1800)
            result = await result_future
        finally:
            usage = await meter.stop()
            for proc, _ in procs:
                stop(proc)
            stop(sync)
        assert await replica_count(replica_db) == rows
    total = last - started
    return {
        "consumer_processes": consumers,
        "total_s": round(total, 2),
        "rows_per_s": round(rows / total),
        "sync_run_s": result["duration_s"],
        "sync_process_done_s": round(marks["sync"] - started, 2),
        "sync_peak_rss_mb": max(usage["peak_rss_mb"].get("sync process", 0.0), result["peak_rss_mb"]),
        "consumer_peak_rss_mb": max(v for k, v in usage["peak_rss_mb"].items() if k.startswith("consumer")),
        **usage,
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


async def main(
    rows: int, batch: int, max_records: int, consumers: int, outbox_sample: int, variant: bool
) -> None:
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "rows": rows,
        "batch_size": batch,
        "consumer_max_records": max_records,
        "consumer_processes": consumers,
    }
    results["bytecode_compile_s"] = compile_bytecode()
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

            # The headline first, on a quiet broker and a warm source.
            e2e_topic = Topic(bootstrap, f"e{uuid.uuid4().hex[:6]}.")
            results["end_to_end"] = await end_to_end(
                e2e_topic, source_dsn, rows, batch, max_records, consumers
            )
            print(f"end to end, {consumers} consumer(s): {results['end_to_end']}", flush=True)

            if variant:
                bare_topic = Topic(bootstrap, f"n{uuid.uuid4().hex[:6]}.")
                results["end_to_end_without_search_indexes"] = await end_to_end(
                    bare_topic, source_dsn, rows, batch, max_records, consumers, search_indexes=False
                )
                print(f"end to end, no trigram indexes: {results['end_to_end_without_search_indexes']}")

            leg_topic = Topic(bootstrap, f"b{uuid.uuid4().hex[:6]}.")
            results["source_to_topic"] = await leg_source_to_topic(leg_topic, source_dsn, rows, batch)
            print(f"source -> topic: {results['source_to_topic']}", flush=True)
            results["topic_to_replica"] = await leg_topic_to_replica(leg_topic, rows, max_records, consumers)
            print(f"topic -> replica: {results['topic_to_replica']}", flush=True)

            if outbox_sample:
                outbox_topic = Topic(bootstrap, f"o{uuid.uuid4().hex[:6]}.")
                results["outbox_alternative"] = await outbox_alternative(
                    outbox_topic, source_dsn, min(outbox_sample, rows), batch
                )
                print(f"outbox alternative: {results['outbox_alternative']}", flush=True)
    e2e = results["end_to_end"]
    peaks = [  # the sync and the consumers (the broker is infrastructure: reported apart)
        v
        for step in ("end_to_end", "end_to_end_without_search_indexes", "source_to_topic", "topic_to_replica")
        if step in results
        for v in results[step]["peak_rss_mb"].values()
    ]
    results["targets"] = {
        "end_to_end_s": e2e["total_s"],
        "end_to_end_under_30s": e2e["total_s"] < 30 if rows == 1_000_000 else None,
        "max_peak_rss_mb": max(peaks),
        "every_process_under_300mb": max(peaks) < 300,
        "end_to_end_vs_raw_copy": round(e2e["rows_per_s"] / results["raw_copy"]["copy_rows_per_s"], 3),
        "end_to_end_cpu_s_per_row_us": round(e2e["cpu_total_s"] / rows * 1e6, 1),
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
        default=2000,
        help="records per consumer batch (CONSUMER_MAX_RECORDS of the attentions worker)",
    )
    parser.add_argument(
        "--consumers", type=int, default=2, help="attentions worker processes in the replica's consumer group"
    )
    parser.add_argument(
        "--outbox-sample", type=int, default=100_000, help="rows for the outbox comparison (0: skip it)"
    )
    parser.add_argument(
        "--no-variant",
        action="store_true",
        help="skip the end-to-end run into a replica without its two trigram (search) indexes",
    )
    a = parser.parse_args()
    asyncio.run(
        main(a.rows, a.batch_size, a.consumer_max_records, a.consumers, a.outbox_sample, not a.no_variant)
    )

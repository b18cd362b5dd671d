"""The messaging kit under faults: the broker goes away, a consumer is SIGKILLed between effect and commit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from crm_contracts.registry import deadletter_topic
from crmkit import localstack, metrics
from crmkit import runtime as runtime_module
from crmkit.kafka import ensure_topics
from crmkit.runtime import ServiceRuntime
from eventually import eventually
from kit.helpers import effect_counts
from kit.pingpong import PINGS, pinger, ponger, write_ping

pytestmark = pytest.mark.integration
TESTS = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def own_broker(port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        localstack.tansu_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        localstack.wait_for_port("127.0.0.1", port)
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def test_writes_survive_a_broker_outage_and_are_delivered_once_after(settings_for, new_database):
    port, pinger_rt, ponger_rt, ponger_db = await _ping_pong_on_own_broker(settings_for, new_database)
    with own_broker(port) as first:
        async with pinger_rt.running({"relay"}), ponger_rt.running({"worker"}):
            await _write_pings(pinger_rt, range(20))
            await eventually(
                lambda: effect_counts(ponger_db), lambda c: len(c) == 20, what="before the outage"
            )

            first.kill()
            first.wait()
            errors_before = _relay_errors()
            await _write_pings(pinger_rt, range(20, 120))  # still succeeds
            await eventually(_async(_relay_errors), lambda n: n > errors_before, what="the relay noticing")

            with own_broker(port):
                await _each_applied_once(ponger_db, 120)
                # Recreated from the registry, not auto-created by a client with the broker's default count.
                assert (
                    await _partitions(
                        pinger_rt.settings.kafka_bootstrap_servers, pinger_rt.settings.topic(PINGS.name)
                    )
                    == 3
                )


async def test_a_broker_replaced_between_two_topology_checks_is_noticed_by_its_cluster_id(
    settings_for, new_database, monkeypatch
):
    """The shortest outage: the broker restarts empty between two checks of the worker, and other clients
    recreate the topics and fill them past the consumers' old positions before the worker looks. Nothing
    is missing, nothing shrank, the broker never seemed unreachable: only the cluster id tells."""
    monkeypatch.setattr(runtime_module, "TOPOLOGY_CHECK_S", 3600.0)  # this test decides when the worker looks
    port, pinger_rt, ponger_rt, ponger_db = await _ping_pong_on_own_broker(settings_for, new_database)
    with own_broker(port) as first:
        async with pinger_rt.running({"relay"}), ponger_rt.running({"worker"}):
            assert ponger_rt.worker is not None
            assert await ponger_rt.worker.check_topology(), "the same broker: nothing to do"
            await _write_pings(pinger_rt, range(20))
            await eventually(lambda: effect_counts(ponger_db), lambda c: len(c) == 20, what="before")
            assert await ponger_rt.worker.check_topology(), "still the same broker"

            first.kill()
            first.wait()
            with own_broker(port):
                # Another instance of the consuming service (or an operator) recreated every topic.
                dead_letters = (deadletter_topic(ponger_rt.settings.service_name), 1)
                await ensure_topics(ponger_rt.settings, [PINGS, dead_letters])
                await _write_pings(pinger_rt, range(20, 80))
                await eventually(
                    lambda: _unpublished(pinger_rt), lambda n: n == 0, timeout=60, what="all published"
                )
                assert not await ponger_rt.worker.check_topology(), "the new broker went unnoticed"
                await _each_applied_once(ponger_db, 80)


async def _ping_pong_on_own_broker(
    settings_for, new_database
) -> tuple[int, ServiceRuntime, ServiceRuntime, str]:
    """A pinger and a ponger set up for a broker of this test's own, on a port of their own."""
    port = localstack.free_port()
    broker = {"kafka_bootstrap_servers": f"127.0.0.1:{port}", "kafka_idempotence": False}
    pinger_rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"), **broker)))
    ponger_db = await new_database("ponger")
    ponger_rt = ServiceRuntime(ponger(settings_for(database_url=ponger_db, **broker)))
    return port, pinger_rt, ponger_rt, ponger_db


async def _each_applied_once(ponger_db: str, count: int) -> None:
    counts = await eventually(
        lambda: effect_counts(ponger_db), lambda c: len(c) == count, timeout=60, what=f"all {count} effects"
    )
    assert set(counts.values()) == {1}, "an event was applied twice"


async def _write_pings(rt: ServiceRuntime, seqs: range) -> None:
    async with rt.pool.acquire() as conn:
        for seq in seqs:
            await write_ping(conn, rt.outbox, f"a{seq % 4}", seq)


async def _unpublished(rt: ServiceRuntime) -> int:
    async with rt.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM kit_outbox WHERE published_at IS NULL"))


async def _partitions(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        await consumer.stop()


def _relay_errors() -> float:
    return sum(
        s.value for m in metrics.RELAY_ERRORS.collect() for s in m.samples if s.name.endswith("_total")
    )


def _async(fn):
    async def probe():
        return fn()

    return probe


def _ponger_process(settings_env: dict[str, str], port: int, marker: Path | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env, "HTTP_PORT": str(port), "PYTHONPATH": str(TESTS)}
    if marker:
        env["PONGER_CRASH_MARKER"] = str(marker)
    return subprocess.Popen(
        [sys.executable, "-m", "kit.pingpong", "ponger", "run"], env=env, start_new_session=True
    )


async def test_consumer_killed_after_effect_before_commit_applies_it_once(
    settings_for, new_database, tmp_path, topic_prefix, infra
):
    pinger_rt = ServiceRuntime(pinger(settings_for(database_url=await new_database("pinger"))))
    ponger_db = await new_database("ponger")
    env = {
        "DATABASE_URL": ponger_db,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "KAFKA_IDEMPOTENCE": str(infra.kafka_is_apache).lower(),
        "TOPIC_PREFIX": topic_prefix,
        "CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        "LOG_JSON": "false",
        "CONSUMER_MAX_RECORDS": "50",
    }
    marker = tmp_path / "crashed"
    async with pinger_rt.running({"relay"}):
        async with pinger_rt.pool.acquire() as conn:
            for seq in range(200):
                await write_ping(conn, pinger_rt.outbox, f"k{seq % 7}", seq)

        doomed = _ponger_process(env, localstack.free_port(), marker)
        try:
            code = await asyncio.get_running_loop().run_in_executor(None, doomed.wait, 60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(doomed.pid, signal.SIGKILL)
        assert code == -signal.SIGKILL and marker.exists(), "the consumer died right after its first commit"
        applied_before_kill = int(marker.read_text())
        assert len(await effect_counts(ponger_db)) >= applied_before_kill > 0

        port = localstack.free_port()
        survivor = _ponger_process(env, port, None)
        try:
            counts = await eventually(
                lambda: effect_counts(ponger_db), lambda c: len(c) == 200, timeout=60, what="all 200 effects"
            )
            assert set(counts.values()) == {1}, "an event was applied twice after the restart"
            # The records of the killed batch really came again, and were recognised as duplicates.
            await eventually(
                lambda: _duplicates_seen(port), lambda n: n >= applied_before_kill, what="duplicates dropped"
            )
        finally:
            survivor.send_signal(signal.SIGTERM)
            try:
                assert survivor.wait(30) == 0, "graceful shutdown exits 0"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(survivor.pid, signal.SIGKILL)


async def _duplicates_seen(port: int) -> float:
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.TransportError:
        return -1
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("crm_consumer_events_total") and 'outcome="duplicate"' in line
    )
